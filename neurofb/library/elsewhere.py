"""Recordings written outside the data folder, noted so a crash there is recovered too.

:func:`~neurofb.library.recovery.recover_interrupted` searches ``<data dir>/recordings`` for
recordings a crash left open. A recording written elsewhere (``stream --record /media/usb/x``)
would escape it, so a small note — its path, in ``<data dir>/recordings/.elsewhere/`` — tells
recovery where to look. The note stays after the recording is closed: it is also how ``neurofb
sessions --reindex`` (a database rebuilt from the files) finds the recordings kept elsewhere
(``stream --record PATH``, ``import --out PATH``). A note stays while its folder is away (a
drive unplugged). Notes are best effort: a data folder that cannot be written loses the note, never
the recording.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from neurofb import paths
from neurofb.recording.base import META, OPEN

__all__ = ["forget", "kept", "note", "noted"]

log = logging.getLogger(__name__)

#: The notes' folder, inside the data folder's recordings folder.
FOLDER = ".elsewhere"


def _notes(data_dir: str | os.PathLike | None) -> Path:
    return paths.data_dir(data_dir) / "recordings" / FOLDER


def _name(folder: Path) -> str:
    return hashlib.sha256(str(folder).encode("utf-8")).hexdigest()[:20] + ".json"


def note(folder: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> Path | None:
    """Note a recording being written outside ``<data dir>/recordings``.

    Returns
    -------
    Path or None
        The note, or None when none is needed (the folder is under the recordings folder) or
        it could not be written (logged).
    """
    where = Path(folder).resolve()
    root = (paths.data_dir(data_dir) / "recordings").resolve()
    if paths.is_same_or_inside(where, root):
        return None
    notes = _notes(data_dir)
    try:
        notes.mkdir(parents=True, exist_ok=True)
        target = notes / _name(where)
        target.write_text(json.dumps({"path": str(where)}) + "\n", encoding="utf-8")
    except OSError as err:
        log.warning("cannot note %s for crash recovery: %s", where, err)
        return None
    return target


def forget(folder: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> None:
    """Remove the note of a recording that was removed (no error if there is none)."""
    try:
        (_notes(data_dir) / _name(Path(folder).resolve())).unlink(missing_ok=True)
    except OSError as err:
        log.warning("cannot remove the recovery note of %s: %s", folder, err)


def _read(data_dir: str | os.PathLike | None) -> list[Path]:
    """The noted folders that hold a recording now (open or closed). A note whose folder is
    not there is kept: a deleted recording cannot be told from one on a drive unplugged, and
    the note is all that leads a rebuilt database back to it. An unreadable note is removed."""
    notes = _notes(data_dir)
    if not notes.is_dir():
        return []
    found = []
    for item in sorted(notes.glob("*.json")):
        try:
            folder = Path(json.loads(item.read_text(encoding="utf-8"))["path"])
        except (OSError, ValueError, KeyError, TypeError):
            folder = None
        if folder is not None and ((folder / OPEN).exists() or (folder / META).exists()):
            found.append(folder)
            continue
        if folder is not None:  # not there now: deleted, or on a drive unplugged (its mount
            continue  # point may stay, empty); a note is a line of text: it waits
        try:  # unreadable: it can lead nowhere
            item.unlink()
        except OSError:
            pass
    return found


def noted(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The noted recordings that are still open (being written, or left open by a crash)."""
    return [folder for folder in _read(data_dir) if (folder / OPEN).exists()]


def kept(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Every noted recording outside the recordings folder that still exists, open or closed
    (what a reindex adds to the recordings folder's own)."""
    return _read(data_dir)
