"""Shared fixtures: a private data dir for every test, the eegmat data path."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from neurofb.lsl import MACHINE_ONLY

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The Lab Streaming Layer stays on this machine in the tests: liblsl reads this configuration
# (loopback only, IPv4, no multicast groups beyond 127.0.0.1, a private session id) the first
# time it is used, so LSLAPICFG is set here, before any test imports pylsl. `lsl_loopback`
# checks that liblsl really loaded it and skips the LSL tests otherwise.
LSL_SESSION = f"neurofb-test-{os.getpid()}"
_LSL_DIR = Path(tempfile.mkdtemp(prefix="neurofb-lsl-"))
(_LSL_DIR / "lsl_api.cfg").write_text(
    MACHINE_ONLY.format(session_id=LSL_SESSION) + "[log]\nlevel = -2\n", encoding="utf-8")
os.environ["LSLAPICFG"] = str(_LSL_DIR / "lsl_api.cfg")

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


@pytest.fixture(scope="session")
def lsl_loopback():
    """pylsl, once liblsl is shown to run with the loopback-only configuration above.

    An outlet carries the session id of the configuration liblsl loaded; if it is not ours (the
    file was not read, or was rejected and liblsl fell back to its network-wide defaults), the
    test is skipped rather than let LSL traffic leave this machine.
    """
    pylsl = pytest.importorskip("pylsl")
    if os.environ.get("LSLAPICFG") != str(_LSL_DIR / "lsl_api.cfg"):
        pytest.skip("LSLAPICFG was changed after conftest set it: LSL tests need loopback only")
    probe = pylsl.StreamOutlet(pylsl.StreamInfo("neurofb-probe", "probe", 1, 0, "float32", "p"))
    session = probe.get_info().session_id()
    del probe
    if session != LSL_SESSION:
        pytest.skip(f"liblsl did not load the loopback-only configuration (session {session!r}); "
                    "LSL tests do not run")
    return pylsl
