"""Where neurofb keeps user data, and where the shipped files are.

User data (recordings, the session database, personal models) lives in the platform's user data
directory, overridable with ``NEUROFB_HOME`` or the CLI's ``--data-dir``. Nothing is ever written
into the installed package.

The shipped model and demo recording live in ``models/`` and ``recordings/`` of the source
checkout; a wheel carries them as package data under ``neurofb/_shipped/`` (see
``pyproject.toml``), so ``pip install neurofb`` runs the app on them without a download.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

#: Root of the source checkout (models/ and recordings/ ship beside the package).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where a wheel install keeps the shipped models and recordings (package data).
INSTALLED_ASSETS = Path(__file__).resolve().parent / "_shipped"


def _shipped(name: str) -> Path:
    """``name`` (models, recordings) of the checkout, else of the installed package."""
    checkout = REPO_ROOT / name
    if checkout.is_dir() and (REPO_ROOT / "pyproject.toml").is_file():
        return checkout
    return INSTALLED_ASSETS / name


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Return the user data directory, creating it if needed.

    Parameters
    ----------
    override : path-like, optional
        Explicit directory; otherwise ``$NEUROFB_HOME``, otherwise the platform's user data dir.
    """
    if override is not None:
        path = Path(override)
    elif os.environ.get("NEUROFB_HOME"):
        path = Path(os.environ["NEUROFB_HOME"])
    else:
        path = Path(platformdirs.user_data_dir("neurofb", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir(override: str | os.PathLike | None = None) -> Path:
    """Return the user config directory (``<data_dir>/config`` when overridden)."""
    if override is not None or os.environ.get("NEUROFB_HOME"):
        path = data_dir(override) / "config"
    else:
        path = Path(platformdirs.user_config_dir("neurofb", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def shipped_models_dir() -> Path:
    """Return the folder of models shipped with neurofb (``models/`` in the checkout)."""
    return _shipped("models")


def default_model_dir() -> Path:
    """Return the shipped default focus model folder."""
    return shipped_models_dir() / "focus-default"


def shipped_recordings_dir() -> Path:
    """Return the folder of shipped sample recordings (``recordings/`` in the checkout)."""
    return _shipped("recordings")
