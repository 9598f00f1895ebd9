"""Shared fixtures: a private data dir for every test, the eegmat data path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
EEGMAT = Path(os.environ.get("NEUROFB_EEGMAT", REPO.parent / "shared" / "data" / "eegmat"))


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Point NEUROFB_HOME at a fresh folder so no test touches the user's data."""
    home = tmp_path_factory.mktemp("neurofb-home")
    monkeypatch.setenv("NEUROFB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def eegmat_dir() -> Path:
    """The eegmat EDF folder (shared/data/eegmat beside the checkout)."""
    if not (EEGMAT / "Subject00_1.edf").exists():
        pytest.skip(f"eegmat data not found at {EEGMAT} (set NEUROFB_EEGMAT)")
    return EEGMAT
