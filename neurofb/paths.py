"""Where neurofb keeps user data, and where the shipped files are.

User data (recordings, the session database, personal models) lives in the platform's user data
directory, overridable with ``NEUROFB_HOME`` or the CLI's ``--data-dir``. Nothing is ever written
into the installed package.

The shipped model and demo recording live in ``models/`` and ``recordings/`` of the source
checkout; a wheel carries them as package data under ``neurofb/_shipped/`` (see
``pyproject.toml``), so ``pip install neurofb`` runs the app on them without a download.

Paths a user gives are checked here, before anything is opened or created (the rules are in
``docs/safety.md``): :func:`check_input` (an input must exist: never a fallback),
:func:`check_new_file` (never overwrite without ``force``), :func:`check_new_folder` (a new
recording folder), :func:`check_output_folder` (a folder to add files to: a BIDS dataset, a
model folder). No output may be, or lie inside, one of the command's inputs (not even with
``force``); the folder an output goes into must exist (neurofb creates the file or the folder
named, never the folders above it) and be writable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import platformdirs

from neurofb.errors import NeurofbError, PathError

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
        Explicit directory (``--data-dir``); otherwise ``$NEUROFB_HOME``, otherwise the
        platform's user data dir. An explicit directory (``--data-dir`` or ``NEUROFB_HOME``) is
        created only when the folder above it exists (a mistyped path is not silently made).

    Raises
    ------
    PathError
        ``override`` (or ``NEUROFB_HOME``) does not exist and neither does the folder above
        it, or it is a file.
    """
    if override is not None:
        path = Path(override)
        if path.exists() and not path.is_dir():
            raise PathError(f"data folder {path} is a file; give a folder (--data-dir)")
        if not path.exists() and not path.absolute().parent.is_dir():
            raise PathError(f"data folder {path}: the folder above it does not exist; create "
                            "it first or give another --data-dir")
    elif os.environ.get("NEUROFB_HOME"):
        path = Path(os.environ["NEUROFB_HOME"])
        if path.exists() and not path.is_dir():
            raise PathError(f"data folder {path} (NEUROFB_HOME) is a file; give a folder")
        if not path.exists() and not path.absolute().parent.is_dir():
            raise PathError(f"data folder {path} (NEUROFB_HOME): the folder above it does not "
                            "exist; create it first or set NEUROFB_HOME to another folder")
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


# -- user-given paths ----------------------------------------------------------------------------


def _absolute(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def is_same_or_inside(path: str | os.PathLike, other: str | os.PathLike) -> bool:
    """Whether ``path`` is ``other`` (the same file, links and hard links included) or lies
    inside the folder ``other`` (by its path, or as a hard link to a file in it)."""
    p, o = _absolute(path), _absolute(other)
    try:
        rp, ro = p.resolve(), o.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare as written
        rp, ro = p, o
    if rp == ro or p == o:
        return True
    if ro.is_dir() and (rp.is_relative_to(ro) or p.is_relative_to(o)):
        return True
    try:
        if not (p.exists() and o.exists()):
            return False
        if os.path.samefile(p, o):
            return True
        return ro.is_dir() and _hard_link_inside(rp, ro)
    except OSError:
        return False


def _hard_link_inside(path: Path, folder: Path) -> bool:
    """Whether the file ``path`` is a hard link to a file anywhere under ``folder``."""
    st = path.stat()
    if not path.is_file() or st.st_nlink < 2:  # one name only: it cannot be another's link
        return False
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                other = os.stat(os.path.join(root, name), follow_symlinks=False)
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                return True
    return False


def _check_not_input(
    path: Path, inputs: Iterable[str | os.PathLike | None], error: type[NeurofbError]
) -> None:
    for item in inputs:
        if item is None:
            continue
        if is_same_or_inside(path, item):
            folder = _absolute(item)
            if not folder.is_dir() or _same(path, item):
                where = "is"
            elif _absolute(path).resolve().is_relative_to(folder.resolve()):
                where = "is inside"
            else:
                where = "is a hard link to a file in"
            raise error(f"{path} {where} {item}, which this command reads: neurofb never "
                        "writes into its own input (not even with --force); choose another path")


def _same(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return _absolute(a).resolve() == _absolute(b).resolve()
    except (OSError, RuntimeError):
        return _absolute(a) == _absolute(b)


def _check_parent(path: Path, what: str, error: type[NeurofbError]) -> None:
    parent = _absolute(path).parent
    if not parent.exists():
        raise error(f"folder {parent} does not exist: create it first (neurofb does not create "
                    f"the folders above a {what}) or choose another path")
    if not parent.is_dir():
        raise error(f"{parent} is a file, not a folder: choose another path for the {what}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise error(f"cannot write the {what} {path}: folder {parent} is read-only; choose a "
                    "folder you can write to")


def check_input(
    path: str | os.PathLike, *, what: str = "input", error: type[NeurofbError] = PathError
) -> Path:
    """Check that a path the user gave to read exists (a missing one is never replaced).

    Parameters
    ----------
    path : path-like
        The path.
    what : str
        What it is, for the message ("recording", "model folder", ...).
    error : type of NeurofbError
        The exception to raise.

    Returns
    -------
    Path

    Raises
    ------
    NeurofbError
        (``error``) The path does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise error(f"{what} {p} does not exist: check the path")
    return p


def check_new_file(
    path: str | os.PathLike,
    *,
    force: bool = False,
    inputs: Iterable[str | os.PathLike | None] = (),
    what: str = "file",
    error: type[NeurofbError] = PathError,
) -> Path:
    """Check a file the user asked to write, before anything is opened or created.

    Parameters
    ----------
    path : path-like
        The file to write.
    force : bool
        Allow replacing an existing file (``--force``). Never allows writing an input.
    inputs : iterable of path-like
        Files and folders the command reads: the file may be none of them, nor lie inside one.
    what : str
        What the file is, for the messages ("trace", "EDF file", ...).
    error : type of NeurofbError
        The exception to raise.

    Returns
    -------
    Path

    Raises
    ------
    NeurofbError
        (``error``) The path is empty or ``-``, an input or inside one, a folder, a device or
        a pipe, exists (without ``force``) or is read-only, or its folder does not exist or is
        read-only.
    """
    if str(path) in ("", "-"):
        raise error(f"{'an empty name' if not str(path) else '-'} is no {what} name: neurofb "
                    f"writes the {what} to a file (standard output is not one); give its name")
    p = Path(path)
    _check_not_input(p, inputs, error)
    if p.is_dir():
        raise error(f"{p} is a folder; give the name of the {what} to write")
    if p.exists() and not p.is_file():
        raise error(f"{p} is not a regular file (a device or a pipe): the {what} is written to a "
                    "file and read back; give a file name")
    if p.exists() or p.is_symlink():
        if not force:
            raise error(f"{p} exists: neurofb never overwrites a file; choose another name or "
                        "pass --force to replace it")
        if not os.access(p, os.W_OK):
            raise error(f"{p} cannot be replaced: it is read-only")
    _check_parent(p, what, error)
    return p


def check_new_folder(
    path: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
    what: str = "recording folder",
    error: type[NeurofbError] = PathError,
) -> Path:
    """Check a new folder the user asked to create (a recording): it must not exist.

    Raises
    ------
    NeurofbError
        (``error``) The path exists, is or lies inside an input, or its parent folder does not
        exist or is read-only.
    """
    p = Path(path)
    _check_not_input(p, inputs, error)
    if p.exists() or p.is_symlink():
        raise error(f"{p} already exists: neurofb never overwrites a {what}; choose a new path")
    _check_parent(p, what, error)
    return p


def check_output_folder(
    path: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
    what: str = "folder",
    error: type[NeurofbError] = PathError,
) -> Path:
    """Check a folder new files are written into (a BIDS dataset, a model folder).

    It may exist (it must then be a writable folder); if it does not, the folder above it must
    exist. What may be replaced inside it is the caller's business.

    Raises
    ------
    NeurofbError
        (``error``) The path is or lies inside an input, is a file, is read-only, or neither it
        nor its parent exists.
    """
    p = Path(path)
    _check_not_input(p, inputs, error)
    if p.exists():
        if not p.is_dir():
            raise error(f"{p} is a file; give a folder for the {what}")
        if not os.access(p, os.W_OK | os.X_OK):
            raise error(f"cannot write into {p}: it is read-only; choose a folder you can "
                        "write to")
        return p
    _check_parent(p, what, error)
    return p


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
