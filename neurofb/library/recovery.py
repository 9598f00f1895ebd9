"""Recover what a crash left behind, once, when a neurofb program starts.

A recording whose writer died (``kill -9``, power cut) still holds everything up to its last
flush, but its meta.json is unfinished and the library does not know it. :func:`recover_interrupted`
finalises every such recording under the recordings folder (and those written elsewhere,
noted by :mod:`neurofb.library.elsewhere`), stores a session summary computed
from its trace and markers, and adds it to the session library. ``neurofb stream``, ``replay``,
``sessions`` and the app call it at start-up.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from neurofb import paths
from neurofb.errors import LibraryError, RecordingError
from neurofb.library import elsewhere
from neurofb.library.index import SessionLibrary, default_path
from neurofb.library.summary import summarise_folder, summarise_recording
from neurofb.recording.base import EEG, MARKERS, META, OPEN, TRACE
from neurofb.recording.folder import read_folder
from neurofb.recording.interrupted import (
    finalise_interrupted,
    find_interrupted,
    is_being_written,
)

__all__ = ["Recovery", "recover_interrupted"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovery:
    """What :func:`recover_interrupted` did.

    Parameters
    ----------
    finalised : tuple of Path
        Recordings finalised (and, unless ``problems`` says otherwise, indexed).
    problems : tuple of str
        One line per recording that could not be finalised or indexed, and why.
    """

    finalised: tuple[Path, ...] = ()
    problems: tuple[str, ...] = ()


def recover_interrupted(
    data_dir: str | os.PathLike | None = None,
    *,
    recordings: str | os.PathLike | None = None,
    library_path: str | os.PathLike | None = None,
) -> Recovery:
    """Finalise every interrupted recording and add it to the session library.

    Parameters
    ----------
    data_dir : path-like, optional
        The user data folder (default :func:`neurofb.paths.data_dir`).
    recordings : path-like, optional
        Folder to search (default ``<data_dir>/recordings``).
    library_path : path-like, optional
        Session database (default ``<data_dir>/sessions.sqlite3``).

    Returns
    -------
    Recovery
        The folders finalised, and what could not be done. Never raises for a damaged
        recording or an unwritable library: a start-up must go on.
    """
    root = Path(recordings) if recordings is not None else (
        paths.data_dir(data_dir) / "recordings")
    try:
        folders = find_interrupted(root)
        if recordings is None:  # and those written elsewhere, from their notes
            folders += [f for f in elsewhere.noted(data_dir)
                        if (f / META).exists() and not is_being_written(f) and f not in folders]
    except OSError as err:
        return Recovery(problems=(f"cannot look for interrupted recordings in {root}: {err}",))
    writable = [f for f in folders if os.access(f, os.W_OK | os.X_OK)]
    if len(writable) < len(folders):  # a read-only data folder: listed, never written
        n = len(folders) - len(writable)
        read_only = (f"{n} interrupted recording(s) under {root} cannot be finalised: their "
                     "folder is read-only (they stay readable as they are)",)
        folders = writable
    else:
        read_only = ()
    done: list[Path] = []
    problems: list[str] = []
    for folder in folders:
        source = _imported_from(folder)
        if source:  # a copy cut short is no recording: the file it came from is still there
            problems.append(_remove_files(folder, f"its import of {source} was stopped before "
                                                  "the end; import the file again"))
            elsewhere.forget(folder, data_dir)
            continue
        try:
            summary = summarise_recording(read_folder(folder)).to_dict()
        except RecordingError as err:
            log.info("no summary for %s: %s", folder, err)  # its problem line says what counts
            summary = None
        try:
            meta = finalise_interrupted(folder, summary=summary)
        except RecordingError as err:
            problems.append(f"could not finalise {folder}: {err}")
            continue
        if meta.get("n_samples") == 0:  # stopped before its first sample: nothing to keep
            problems.append(_remove_empty(folder))
            if not folder.exists():
                elsewhere.forget(folder, data_dir)
            continue
        done.append(folder)
        log.warning("finalised interrupted recording %s", folder)
    if done:
        problems += _index(done, library_path or default_path(data_dir))
    return Recovery(tuple(done), (*read_only, *problems))


def _index(folders: list[Path], library_path: str | os.PathLike) -> list[str]:
    problems = []
    try:
        with SessionLibrary(library_path) as lib:
            for folder in folders:
                try:
                    lib.add_session(summarise_folder(folder)[0])
                except RecordingError as err:
                    problems.append(f"could not index {folder}: {err}")
    except LibraryError as err:
        problems.append(f"recovered recordings not added to the library: {err}")
    return problems


def _imported_from(folder: Path) -> str:
    """The file an interrupted folder was being imported from ("" for a recording)."""
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    source = meta.get("imported_from") if isinstance(meta, dict) else None
    return source if isinstance(source, str) else ""


def _remove_empty(folder: Path) -> str:
    """Remove a recording folder that an interrupted writer left without a sample (only the
    files a writer makes; anything else keeps the folder) and say what was done."""
    return _remove_files(folder, "its recording was interrupted before its first sample")


def _remove_files(folder: Path, why: str) -> str:
    """Remove a writer's files and its folder (kept if it holds others); say what was done."""
    for name in (META, EEG, MARKERS, TRACE, OPEN):
        (folder / name).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError as err:
        return (f"{folder}: {why}; its files were removed but the folder was kept "
                f"({err.strerror}: it holds other files)")
    return f"removed {folder}: {why}"
