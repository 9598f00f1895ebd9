"""Recordings a crash left open: find them and finalise them.

A :class:`~neurofb.recording.writer.RecordingWriter` holds an exclusive lock on its folder's
``.open`` file while it writes (``flock``; the kernel drops it when the process dies, ``kill -9``
included). A folder whose ``.open`` nobody holds is interrupted. Where file locks are not
available (not POSIX), the pid and host written in ``.open`` decide.

Finalising writes only what the folder itself tells: the sample count, the duration and end
time, ``interrupted: true``. The session summary and the library entry are the library's job
(:func:`neurofb.library.recovery.recover_interrupted` calls :func:`finalise_interrupted` with
one), so this module knows nothing of the library.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import time
from pathlib import Path

from neurofb import paths
from neurofb.errors import RecordingError
from neurofb.paths import pid_alive
from neurofb.recording.base import EEG, META, OPEN
from neurofb.recording.folder import read_meta, row_layout
from neurofb.recording.writer import iso_time, write_json_atomic

try:
    import fcntl
except ImportError:  # not POSIX: fall back on the pid written in .open
    fcntl = None  # type: ignore[assignment]

__all__ = ["finalise_interrupted", "find_interrupted", "is_being_written", "pid_alive"]

logger = logging.getLogger(__name__)


def _lock_held(lock: Path) -> bool | None:
    """Whether some open file description holds a lock on ``lock`` (None: cannot tell)."""
    if fcntl is None:
        return None
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # closing the descriptor releases a lock it took
    return False


def is_being_written(folder: str | os.PathLike) -> bool:
    """Whether a writer (in this process or another) is recording into ``folder`` now."""
    folder = Path(folder)
    lock = folder / OPEN
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
        pid, host = int(info["pid"]), str(info["host"])
    except (OSError, ValueError, KeyError, TypeError):
        pid, host = -1, socket.gethostname()
    if host != socket.gethostname():  # another machine: trust it while it keeps writing
        try:
            return time.time() - (folder / EEG).stat().st_mtime < 60
        except OSError:
            return False
    held = _lock_held(lock)
    if held is not None:
        return held
    return pid > 0 and pid != os.getpid() and pid_alive(pid)


def find_interrupted(
    root: str | os.PathLike | None = None, *, recursive: bool = True
) -> list[Path]:
    """Return recording folders under ``root`` left open by a writer that no longer runs.

    Parameters
    ----------
    root : path-like, optional
        Folder to search; default ``<data dir>/recordings``.
    recursive : bool
        Search every level below ``root``, or only its direct sub-folders.
    """
    base = Path(root) if root is not None else paths.data_dir() / "recordings"
    if not base.is_dir():
        return []
    locks = base.rglob(OPEN) if recursive else base.glob(f"*/{OPEN}")
    found = [p.parent for p in locks if (p.parent / META).exists()]
    return sorted(p for p in found if not is_being_written(p))


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def finalise_interrupted(path: str | os.PathLike, *, summary: dict | None = None) -> dict:
    """Close a recording a crash left open: count its samples, finalise meta, remove ``.open``.

    A partial last row of eeg.bin is cut off. meta.json gets ``complete``, ``interrupted: true``,
    ``n_samples``, ``duration_s`` and the end time (start + duration); ``summary`` is stored
    unless meta.json already has one.

    Parameters
    ----------
    path : path-like
        The recording folder.
    summary : dict, optional
        The session summary to store (the library computes it from the trace and markers).

    Returns
    -------
    dict
        The new meta.json content.

    Raises
    ------
    RecordingError
        If meta.json is damaged, the folder is still being written, or it cannot be written.
    """
    folder = Path(path)
    meta = read_meta(folder)
    if meta.get("complete") and not (folder / OPEN).exists():
        return meta
    if (folder / OPEN).exists() and is_being_written(folder):
        raise RecordingError(f"{folder} is still being recorded: it cannot be finalised now")
    _, row_bytes = row_layout(meta)
    eeg = folder / EEG
    try:
        size = eeg.stat().st_size if eeg.exists() else 0
        n, rest = divmod(size, row_bytes)
        if rest:
            os.truncate(eeg, n * row_bytes)
        sfreq = float(meta["sfreq"])
        start = float(meta["start_unix"]) if _is_number(meta.get("start_unix")) else time.time()
        meta.update(
            complete=True, interrupted=True, n_samples=int(n), duration_s=n / sfreq,
            end_unix=start + n / sfreq, end_time=iso_time(start + n / sfreq),
        )  # fmt: skip
        if not isinstance(meta.get("summary"), dict) and summary is not None:
            meta["summary"] = summary
        write_json_atomic(folder / META, meta)
        (folder / OPEN).unlink(missing_ok=True)
    except OSError as err:
        raise RecordingError(f"cannot finalise {folder}: {err.strerror or err}") from err
    logger.info("finalised interrupted recording %s (%d samples)", folder, n)
    return meta
