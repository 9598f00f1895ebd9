"""The crash-safe writer of neurofb recording folders.

Layout: see :mod:`neurofb.recording.base` and ``docs/recording-format.md``.

:class:`RecordingWriter` buffers in memory (listener callbacks stay cheap) and a background thread
writes and fsyncs at least twice a second, so ``kill -9`` loses at most the last half second. A
failed write (disk full, unwritable) stops the recording with :attr:`RecordingWriter.error` set;
it never raises into the stream thread, and what was written stays readable. While it writes,
the writer holds an exclusive lock on the folder's ``.open`` file, which is how
:func:`neurofb.recording.interrupted.find_interrupted` tells a live recording from one a crash
left behind.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # not POSIX: interrupted recordings are told by the pid in .open
    fcntl = None  # type: ignore[assignment]

from neurofb import paths
from neurofb.errors import RecordingError
from neurofb.recording.base import DTYPES, EEG, FORMAT, FORMAT_VERSION, MARKERS, META, OPEN, TRACE
from neurofb.recording.trace import COLUMNS, update_row
from neurofb.types import Chunk, Marker, SourceInfo, Update

#: Bytes ``.open`` keeps for the final meta.json when the disk fills up during a recording.
RESERVE_BYTES = 16 * 1024

logger = logging.getLogger(__name__)

#: meta.json keys the writer owns; ``meta=`` may not set them.
_RESERVED = frozenset({
    "format", "format_version", "board", "ch_names", "sfreq", "unit", "dtype", "byte_order",
    "columns", "timestamp_offset", "files", "complete", "interrupted", "n_samples",
})


def iso_time(t: float) -> str:
    """Return Unix time ``t`` as an ISO 8601 UTC string (milliseconds)."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def _software() -> dict[str, str]:
    """Versions of Python and the libraries that shape a recording (metadata only, no import)."""
    from importlib import metadata  # 15 ms: only when a recording is written

    out = {"python": sys.version.split()[0]}
    for dist in ("neurofb", "numpy", "scipy", "mne", "brainflow", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _jsonable(obj: object) -> object:
    """Round-trip through JSON so meta holds only JSON types (unknown objects as strings)."""
    return json.loads(json.dumps(obj, default=str))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not supported on this platform/filesystem: best effort
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: Path, obj: dict) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temporary file, fsync, ``os.replace``)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    data = (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not leave .meta.json.tmp-PID behind
        raise
    _fsync_dir(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _lock_open_file(path: Path) -> int | None:
    """Open ``path`` (a folder's ``.open``) and take an exclusive lock on it; return the fd.

    The writer keeps the descriptor open while it records; closing it (or the process dying)
    releases the lock. Returns None where file locks are not available.

    Raises
    ------
    OSError
        If the file cannot be opened, or another writer holds the lock.
    """
    if fcntl is None:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


class RecordingWriter:
    """Write a live session into a new recording folder, crash-safe.

    The ``write_*`` methods only append to in-memory buffers (cheap enough for listener callbacks
    on the stream thread); a background thread writes them out and fsyncs every
    ``flush_interval_s``. After a crash the folder holds everything up to the last flush and is
    detected by :func:`find_interrupted`.

    Parameters
    ----------
    path : path-like
        Folder to create. It must not exist: a recording is never overwritten.
    info : SourceInfo
        Channels, sampling rate and board of the stream (unit must be µV).
    meta : dict, optional
        Extra metadata for meta.json (``user``, ``model``, ``model_hash``, ``exercise``, …).
        A ``start_unix`` in it (an import: when the samples were recorded) sets the
        recording's start and end times instead of the clock of this computer.
    dtype : {"float64", "float32"}
        Sample type on disk. float64 keeps the board's samples bit-exact; float32 halves the
        size (timestamps are then stored relative to ``timestamp_offset``).
    flush_interval_s : float
        Seconds between flushes to disk, in (0, 1].
    on_error : callable, optional
        Called with the message (on the writer thread) when writing fails.
    unique : bool
        ``path`` is a name neurofb picked (:func:`new_recording_path`), not the user's: when
        another process takes it first (two recordings or imports started in the same
        second), the writer takes the next free name, ``<path>-2``, ``<path>-3``, … and
        :attr:`path` says which. Default False: an existing ``path`` is an error.

    Raises
    ------
    RecordingError
        If ``path`` exists (and ``unique`` is False) or the folder cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        info: SourceInfo,
        *,
        meta: dict | None = None,
        dtype: str = "float64",
        flush_interval_s: float = 0.5,
        on_error: Callable[[str], None] | None = None,
        unique: bool = False,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        if not 0 < flush_interval_s <= 1:
            raise ValueError(f"flush_interval_s must be in (0, 1], got {flush_interval_s}")
        if info.unit != "uV":
            raise ValueError(f"recordings store µV; the source delivers {info.unit!r}")
        if not info.ch_names or not info.sfreq > 0:
            raise ValueError(f"info needs channels and a positive sfreq, got {info}")
        reserved = sorted(_RESERVED.intersection(meta or {}))
        if reserved:
            raise ValueError(f"meta may not set {reserved}: the writer owns these keys")
        self.path = Path(path)
        self.info = info
        self.dtype = dtype
        self.flush_interval_s = float(flush_interval_s)
        self.error: str | None = None
        #: Why writing failed, without the advice of :attr:`error` ("" while it has not).
        self.reason = ""
        self.n_samples = 0
        self._on_error = on_error
        self._np_dtype = np.dtype(DTYPES[dtype])
        self._n_ch = len(info.ch_names)
        self._row_bytes = (self._n_ch + 1) * self._np_dtype.itemsize
        #: Bytes of one row of eeg.bin (timestamp + channels).
        self.row_bytes = self._row_bytes
        self._ts_offset: float | None = 0.0 if dtype == "float64" else None
        self._lock = threading.Lock()
        self._buf: dict[str, list[bytes]] = {EEG: [], MARKERS: [], TRACE: []}
        self._meta_dirty = False
        self._closed = False
        self._fds: dict[str, int] = {}
        started = time.time()
        self.meta: dict = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "board": info.board,
            "ch_names": list(info.ch_names),
            "sfreq": float(info.sfreq),
            "unit": "uV",
            "dtype": dtype,
            "byte_order": "little",
            "columns": ["timestamp", *info.ch_names],
            "timestamp_offset": 0.0,
            "files": {"eeg": EEG, "markers": MARKERS, "trace": TRACE},
            "start_time": iso_time(started),
            "start_unix": started,
            "software": _software(),
            "source": _jsonable(dict(info.details)),
            "user": None,
            "model": None,
            "model_hash": None,
            **_jsonable(dict(meta or {})),
            "complete": False,
        }
        # An import knows when its samples were recorded: its start (and end, at close) are
        # that time, in the same UTC form as a live recording's, not the time of the import.
        given = (meta or {}).get("start_unix")
        self._recorded_at = float(given) if isinstance(given, int | float) and not isinstance(
            given, bool) and math.isfinite(given) else None
        if self._recorded_at is not None:
            self.meta["start_unix"] = self._recorded_at
            self.meta["start_time"] = iso_time(self._recorded_at)
        self._lock_fd: int | None = None
        self._lock_size = 0
        self._create(started, unique)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"recorder:{self.path.name}", daemon=True
        )
        self._thread.start()

    def _create(self, started: float, unique: bool) -> None:
        if not unique and self.path.exists():
            raise RecordingError(
                f"{self.path} already exists: neurofb never overwrites a recording. "
                "Choose a new path (or let neurofb pick one)."
            )
        inside = next((p for p in self.path.absolute().parents
                       if (p / META).is_file() and (p / EEG).is_file()), None)
        if inside is not None:
            raise RecordingError(
                f"{self.path} lies inside the recording {inside}: a recording is never written "
                "into another one. Choose a path outside it."
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RecordingError(
                f"cannot create recording folder {self.path}: {self.path.parent} cannot be made "
                f"({err.strerror}). Choose a folder you can write to."
            ) from err
        base, k = self.path, 2
        try:
            while True:
                try:
                    self.path.mkdir()
                    break
                except FileExistsError as err:
                    if not unique:
                        raise RecordingError(f"{self.path} already exists: neurofb never "
                                             "overwrites a recording.") from err
                    # a name neurofb picked, taken meanwhile by another process: the next one
                    self.path, k = base.with_name(f"{base.name}-{k}"), k + 1
        except OSError as err:
            raise RecordingError(
                f"cannot create recording folder {self.path}: {err.strerror}. "
                "Choose a folder you can write to."
            ) from err
        try:
            lock = {"pid": os.getpid(), "host": socket.gethostname(), "started": iso_time(started)}
            write_json_atomic(self.path / OPEN, lock)
            self._lock_size = (self.path / OPEN).stat().st_size
            # Room kept for the last meta.json: padding after the lock's JSON (still valid
            # JSON), given back at close if the disk filled up meanwhile.
            with open(self.path / OPEN, "ab") as fh:
                fh.write(b" " * RESERVE_BYTES)
            self._lock_fd = _lock_open_file(self.path / OPEN)
            write_json_atomic(self.path / META, self.meta)
            for name in (EEG, MARKERS, TRACE):
                self._fds[name] = os.open(
                    self.path / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
                )
            _write_all(self._fds[TRACE], (",".join(COLUMNS) + "\n").encode())
            _fsync_dir(self.path)
        except OSError as err:
            self._close_fds()
            self._release_lock()
            # The folder is ours and holds no sample yet: leave nothing behind (a full disk
            # must not leave empty recording folders that nothing cleans up).
            shutil.rmtree(self.path, ignore_errors=True)
            raise RecordingError(
                f"cannot write the recording in {self.path}: {err.strerror}. "
                "Free disk space or choose a writable folder."
            ) from err

    # -- cheap appends (any thread) ------------------------------------------------------------

    def write_chunk(self, chunk: Chunk) -> None:
        """Append a chunk of samples (µV) with its timestamps. No-op once stopped or closed.

        Raises
        ------
        ValueError
            If the chunk's channel count differs from the recording's.
        """
        if chunk.data.shape[0] != self._n_ch:
            raise ValueError(
                f"chunk has {chunk.data.shape[0]} channels, the recording {self._n_ch}"
            )
        if self._closed or self.error is not None or chunk.n_samples == 0:
            return
        rows = np.empty((chunk.n_samples, self._n_ch + 1), dtype=self._np_dtype)
        with self._lock:
            if self._ts_offset is None:  # float32: store time relative to the first sample
                self._ts_offset = float(chunk.timestamps[0])
                self.meta["timestamp_offset"] = self._ts_offset
                self._meta_dirty = True
            offset = self._ts_offset
            rows[:, 0] = chunk.timestamps - offset if offset else chunk.timestamps
            rows[:, 1:] = chunk.data.T
            self._buf[EEG].append(rows.tobytes())
            self.n_samples += chunk.n_samples

    def write_update(self, update: Update) -> None:
        """Append one pipeline update to the trace."""
        if self._closed or self.error is not None:
            return
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(update_row(update))
        line = out.getvalue().encode("utf-8")
        with self._lock:
            self._buf[TRACE].append(line)

    def write_marker(self, marker: Marker) -> None:
        """Append one marker (``t`` in seconds since the start of the stream)."""
        if self._closed or self.error is not None:
            return
        value = marker.value
        if value is not None and not math.isfinite(value):
            value = None  # markers.jsonl is strict JSON: a value is a number or null
        record = {"t": marker.t, "kind": marker.kind, "label": marker.label, "value": value}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self._buf[MARKERS].append(line)

    @property
    def duration_s(self) -> float:
        """Seconds of samples accepted so far."""
        return self.n_samples / self.info.sfreq

    @property
    def pending_bytes(self) -> int:
        """Bytes accepted but not yet written out (a bulk writer flushes when this grows)."""
        with self._lock:
            return sum(len(part) for parts in self._buf.values() for part in parts)

    # -- the flusher thread --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            self._flush_safely()
        self._flush_safely()

    def _flush_safely(self) -> None:
        if self.error is not None:
            return
        try:
            self.flush()
        except OSError as err:
            self._fail(f"cannot write {err.filename or 'the recording'}: "
                       f"{err.strerror or err} (errno {err.errno})")
        except Exception as err:  # a bug must not kill the flusher silently
            logger.exception("recording writer failed")
            self._fail(f"{type(err).__name__}: {err}")

    def flush(self) -> None:
        """Write the buffered data out and fsync it (the background thread calls this).

        Raises
        ------
        OSError
            If writing fails (the background thread turns this into :attr:`error`).
        """
        with self._lock:
            pending = {name: b"".join(parts) for name, parts in self._buf.items() if parts}
            for parts in self._buf.values():
                parts.clear()
            meta = dict(self.meta) if self._meta_dirty else None
            self._meta_dirty = False
        if meta is not None:
            write_json_atomic(self.path / META, meta)
        for name, data in pending.items():
            fd = self._fds.get(name)
            if fd is None:
                continue
            try:
                _write_all(fd, data)
                os.fsync(fd)
            except OSError as err:
                err.filename = err.filename or str(self.path / name)
                raise

    def _fail(self, what: str) -> None:
        self.reason = what
        try:
            written = os.fstat(self._fds[EEG]).st_size // self._row_bytes
        except (KeyError, OSError):
            written = 0
        kept = (f"the {written / self.info.sfreq:.1f} s written so far stay readable in "
                f"{self.path}" if written else "no sample had reached the disk")
        self.error = (
            f"recording stopped: {what}. The session goes on without recording; {kept}. "
            "Free disk space or choose a writable folder for the next recording."
        )
        logger.error(self.error)
        self._stop.set()
        with self._lock:
            for parts in self._buf.values():
                parts.clear()
        if self._on_error is not None:
            try:
                self._on_error(self.error)
            except Exception:
                logger.exception("recording on_error callback failed")

    # -- closing -------------------------------------------------------------------------------

    def _close_fds(self) -> None:
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()

    def close(self, summary: dict | None = None) -> None:
        """Flush, finalise meta.json (end time, n_samples, summary) and remove ``.open``.

        Safe to call twice. Never raises on I/O failure: :attr:`error` says what went wrong and
        the folder is then finalised by :func:`finalise_interrupted` on the next start.
        """
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join()
        try:
            size = os.fstat(self._fds[EEG]).st_size if EEG in self._fds else 0
        except OSError:
            size = 0
        self._close_fds()
        n = size // self._row_bytes
        ended = (time.time() if self._recorded_at is None
                 else self._recorded_at + n / self.info.sfreq)
        self.meta.update(
            complete=True,
            interrupted=False,
            n_samples=int(n),
            duration_s=n / self.info.sfreq,
            end_time=iso_time(ended),
            end_unix=ended,
            summary=_jsonable(summary) if summary is not None else None,
        )
        if self.error is not None:
            self.meta["error"] = self.error
        try:
            if size % self._row_bytes:
                os.truncate(self.path / EEG, n * self._row_bytes)
            try:
                write_json_atomic(self.path / META, self.meta)
            except OSError:  # the disk is full: give back the room kept in .open, once more
                os.truncate(self.path / OPEN, self._lock_size)
                write_json_atomic(self.path / META, self.meta)
            (self.path / OPEN).unlink(missing_ok=True)
            _fsync_dir(self.path)
        except OSError as err:
            if self.error is None:
                self._fail(f"cannot finalise meta.json: {err.strerror or err}")
        self._release_lock()

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            try:
                os.close(fd)  # releases the flock on .open
            except OSError:
                pass

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def new_recording_path(root: str | os.PathLike | None = None, label: str = "") -> Path:
    """Return a fresh folder path ``<root>/<YYYYmmdd-HHMMSS>[-<label>]`` that does not exist.

    Parameters
    ----------
    root : path-like, optional
        Parent folder, neurofb's own: created when missing; default ``<data dir>/recordings``.
    label : str
        Suffix such as the board name (characters other than letters, digits, ``._-`` become ``_``).

    Raises
    ------
    RecordingError
        ``root`` cannot be created (a read-only data folder).
    """
    base = Path(root) if root is not None else paths.data_dir() / "recordings"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RecordingError(f"cannot create the recordings folder {base}: "
                             f"{err.strerror or err}. Choose a data folder you can write to "
                             "(--data-dir)") from None
    stem = time.strftime("%Y%m%d-%H%M%S")
    label = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._")
    if label:
        stem = f"{stem}-{label}"
    candidate, k = base / stem, 2
    while candidate.exists():
        candidate, k = base / f"{stem}-{k}", k + 1
    return candidate
