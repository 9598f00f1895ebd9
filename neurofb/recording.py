"""Crash-safe recordings: the neurofb recording folder, its writer and its reader.

A recording is a folder (layout documented in ``docs/recording-format.md``)::

    meta.json       format, board, channels, sampling rate, unit, dtype, model, software, user,
                    start time; on close: end time, n_samples, summary (written atomically)
    eeg.bin         append-only little-endian rows [timestamp, ch1 .. chN] (float64 or float32)
    markers.jsonl   append-only JSON lines {"t", "kind", "label", "value"}
    trace.csv       the focus trace (columns of :data:`neurofb.trace.COLUMNS`)
    .open           present while the recording is being written (pid, host, start)

:class:`RecordingWriter` buffers in memory (listener callbacks stay cheap) and a background thread
writes and fsyncs at least twice a second, so ``kill -9`` loses at most the last second. A failed
write (disk full, unwritable) stops the recording with :attr:`RecordingWriter.error` set; it never
raises into the stream thread, and what was written stays readable. :func:`open_recording` reads
neurofb folders and (through :mod:`neurofb.formats`) EDF/BDF/FIF/BrainFlow CSV files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from neurofb import paths
from neurofb._recording_writer import (
    ACTIVE,
    ACTIVE_LOCK,
    DTYPES,
    EEG,
    FORMAT,
    FORMAT_VERSION,
    MARKERS,
    META,
    OPEN,
    TRACE,
    RecordingWriter,
    iso_time,
    new_recording_path,
    write_json_atomic,
)
from neurofb.errors import RecordingError
from neurofb.trace import COLUMNS
from neurofb.types import Marker, SourceInfo

__all__ = [
    "DTYPES",
    "FORMAT",
    "FORMAT_VERSION",
    "Recording",
    "RecordingWriter",
    "finalise_all_interrupted",
    "finalise_interrupted",
    "find_interrupted",
    "new_recording_path",
    "open_recording",
    "read_folder",
    "read_meta",
]

logger = logging.getLogger(__name__)

#: A backward step of the timestamp column larger than this (s) means eeg.bin does not fit meta.
_MAX_BACKSTEP_S = 1.0


@dataclass(frozen=True)
class Recording:
    """A recording read back into memory.

    Parameters
    ----------
    info : SourceInfo
        Channels, sampling rate and board of the recording (unit µV).
    meta : dict
        The recording's metadata (meta.json for neurofb folders, header fields for files).
    data : array, shape (n_channels, n_samples)
        EEG in µV, float64.
    timestamps : array, shape (n_samples,)
        Time of each sample in seconds (board clock; Unix epoch for live boards).
    markers : list of Marker
        Session events, ``t`` in seconds since the start of the recording.
    trace : list of dict
        Focus trace rows (strings keyed by :data:`neurofb.trace.COLUMNS`), empty if none.
    path : Path or None
        Where the recording was read from.
    warnings : list of str
        What was repaired while reading (a truncated last row dropped, bad marker lines skipped).
    """

    info: SourceInfo
    meta: dict
    data: np.ndarray
    timestamps: np.ndarray
    markers: list[Marker] = field(default_factory=list)
    trace: list[dict[str, str]] = field(default_factory=list)
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.data.ndim != 2 or self.data.shape[0] != len(self.info.ch_names):
            raise ValueError(
                f"Recording.data must have shape ({len(self.info.ch_names)}, n_samples), "
                f"got {self.data.shape}"
            )
        if self.timestamps.shape != (self.data.shape[1],):
            raise ValueError(
                f"Recording.timestamps must have shape ({self.data.shape[1]},), "
                f"got {self.timestamps.shape}"
            )

    @property
    def n_samples(self) -> int:
        """Number of samples per channel."""
        return int(self.data.shape[1])

    @property
    def sfreq(self) -> float:
        """Sampling rate in Hz."""
        return float(self.info.sfreq)

    @property
    def ch_names(self) -> tuple[str, ...]:
        """Channel names."""
        return tuple(self.info.ch_names)

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds (``n_samples / sfreq``)."""
        return self.n_samples / self.sfreq



# ---------------------------------------------------------------------------------------------
# Reading


def _bad_meta(path: Path, problem: str) -> RecordingError:
    return RecordingError(
        f"{path / META} is damaged: {problem}. The samples in eeg.bin may be intact: fix "
        "meta.json by hand (see docs/recording-format.md) or restore it from a backup."
    )


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def read_meta(path: str | os.PathLike) -> dict:
    """Read and check the meta.json of a recording folder.

    Raises
    ------
    RecordingError
        If meta.json is missing, not JSON, or lacks or mistypes a required key.
    """
    folder = Path(path)
    try:
        raw = (folder / META).read_bytes()
    except FileNotFoundError as err:
        raise RecordingError(f"{folder} is not a neurofb recording: it has no {META}") from err
    except OSError as err:
        raise RecordingError(f"cannot read {folder / META}: {err.strerror}") from err
    if not raw.strip():
        raise _bad_meta(folder, "the file is empty")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise _bad_meta(folder, f"not valid JSON ({err})") from err
    if not isinstance(meta, dict):
        raise _bad_meta(folder, f"expected a JSON object, got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise _bad_meta(folder, f"'format' is {meta.get('format')!r}, expected {FORMAT!r}")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _bad_meta(folder, f"'format_version' must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise RecordingError(
            f"{folder} uses recording format version {version}; this neurofb reads up to "
            f"{FORMAT_VERSION}. Update neurofb to read it."
        )
    names = meta.get("ch_names")
    if (not isinstance(names, list) or not names
            or not all(isinstance(n, str) and n for n in names)):
        raise _bad_meta(folder, "'ch_names' must be a non-empty list of channel names")
    if not _is_number(meta.get("sfreq")) or meta["sfreq"] <= 0:
        raise _bad_meta(folder, f"'sfreq' must be a positive number, got {meta.get('sfreq')!r}")
    if meta.get("dtype") not in DTYPES:
        raise _bad_meta(folder, f"'dtype' must be one of {sorted(DTYPES)}, got "
                                f"{meta.get('dtype')!r}")
    if meta.get("unit", "uV") != "uV":
        raise _bad_meta(folder, f"'unit' must be 'uV', got {meta.get('unit')!r}")
    if not isinstance(meta.get("board", ""), str):
        raise _bad_meta(folder, f"'board' must be a string, got {meta.get('board')!r}")
    if not _is_number(meta.get("timestamp_offset", 0.0)):
        raise _bad_meta(folder, "'timestamp_offset' must be a finite number")
    n = meta.get("n_samples")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise _bad_meta(folder, f"'n_samples' must be a non-negative integer, got {n!r}")
    return meta


def _row_layout(meta: dict) -> tuple[np.dtype, int]:
    dtype = np.dtype(DTYPES[meta["dtype"]])
    return dtype, (len(meta["ch_names"]) + 1) * dtype.itemsize


def _read_eeg(folder: Path, meta: dict, warn: list[str]) -> tuple[np.ndarray, np.ndarray]:
    dtype, row_bytes = _row_layout(meta)
    n_ch = len(meta["ch_names"])
    eeg = folder / EEG
    try:
        size = eeg.stat().st_size
    except FileNotFoundError as err:
        raise RecordingError(f"{folder} has no {EEG}: the recording holds no samples") from err
    n_rows, rest = divmod(size, row_bytes)
    if n_rows == 0:
        raise RecordingError(
            f"{eeg} holds no complete sample ({size} bytes; one row of {n_ch} channels + "
            f"timestamp is {row_bytes} bytes): the recording is empty"
        )
    declared = meta.get("n_samples")
    if declared is not None and n_rows > declared:
        raise RecordingError(
            f"{eeg} holds {n_rows} rows of {n_ch} channels but meta.json says {declared} "
            "samples: the channel list or dtype in meta.json does not match eeg.bin"
        )
    if rest:
        warn.append(f"{EEG} ends with a partial row ({rest} bytes), dropped: the recording "
                    "was interrupted while writing")
    if declared is not None and n_rows < declared:
        warn.append(f"{EEG} holds {n_rows} of the {declared} samples meta.json lists: the "
                    "file was truncated; reading what is there")
    try:
        data, timestamps = _read_rows(eeg, dtype, n_ch, n_rows)
    except OSError as err:
        raise RecordingError(f"cannot read {eeg}: {err}") from err
    timestamps += float(meta.get("timestamp_offset", 0.0))
    steps = np.diff(timestamps)
    if not np.all(np.isfinite(timestamps)) or (steps.size and steps.min() < -_MAX_BACKSTEP_S):
        raise RecordingError(
            f"{eeg}: the timestamp column is not a clock (non-finite or jumping back): "
            f"eeg.bin does not hold the {n_ch} channels + timestamp rows meta.json describes"
        )
    return data, timestamps


def _read_rows(
    eeg: Path, dtype: np.dtype, n_ch: int, n_rows: int, *, block: int = 1 << 15
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n_rows`` rows of eeg.bin as data (n_ch, n_rows) and timestamps, float64.

    Read and transposed a block of rows at a time: no second full-size copy, and a blocked
    transpose is several times faster than transposing the whole file at once.
    """
    data = np.empty((n_ch, n_rows))
    timestamps = np.empty(n_rows)
    buf = np.empty((min(block, n_rows), n_ch + 1), dtype=dtype)
    with open(eeg, "rb") as fh:
        for a in range(0, n_rows, block):
            k = min(block, n_rows - a)
            view = memoryview(buf[:k]).cast("B")
            got = 0
            while got < view.nbytes and (n := fh.readinto(view[got:])):
                got += n
            if got != view.nbytes:
                raise RecordingError(f"{eeg} changed size while it was read; try again")
            timestamps[a : a + k] = buf[:k, 0]
            data[:, a : a + k] = buf[:k, 1:].T
    return data, timestamps


def _read_markers(folder: Path, warn: list[str]) -> list[Marker]:
    try:
        raw = (folder / MARKERS).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as err:
        warn.append(f"{MARKERS} unreadable ({err.strerror}): no markers")
        return []
    out: list[Marker] = []
    for i, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line.decode("utf-8"))
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
            t, kind = rec.get("t"), rec.get("kind")
            label, value = rec.get("label", ""), rec.get("value")
            if not _is_number(t) or not isinstance(kind, str) or not kind:
                raise ValueError("needs a number 't' and a string 'kind'")
            if not isinstance(label, str) or not (value is None or _is_number(value)):
                raise ValueError("'label' must be a string and 'value' a number or null")
            out.append(Marker(float(t), kind, label, None if value is None else float(value)))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            warn.append(f"{MARKERS} line {i} skipped: {err}")
    return out


def _read_trace(folder: Path, warn: list[str]) -> list[dict[str, str]]:
    try:
        text = (folder / TRACE).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as err:
        warn.append(f"{TRACE} unreadable ({err.strerror}): no trace")
        return []
    rows: list[dict[str, str]] = []
    try:
        reader = csv.DictReader(io.StringIO(text.replace("\0", "")))
        if reader.fieldnames is None:
            return []
        if tuple(reader.fieldnames) != COLUMNS:
            warn.append(f"{TRACE} has columns {reader.fieldnames}, expected {list(COLUMNS)}: "
                        "trace ignored")
            return []
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                warn.append(f"{TRACE} line {reader.line_num} skipped: wrong number of cells")
                continue
            rows.append(row)
    except csv.Error as err:
        warn.append(f"{TRACE} unreadable past line {len(rows) + 1}: {err}")
    return rows


def read_folder(path: str | os.PathLike) -> Recording:
    """Read a neurofb recording folder (an interrupted one too).

    Raises
    ------
    RecordingError
        If meta.json is damaged, eeg.bin is missing, empty or does not fit meta.json.
    """
    folder = Path(path)
    meta = read_meta(folder)
    warn: list[str] = []
    data, timestamps = _read_eeg(folder, meta, warn)
    markers = _read_markers(folder, warn)
    trace = _read_trace(folder, warn)
    if (folder / OPEN).exists():
        warn.append("the recording was not closed (still recording, or interrupted)")
    for w in warn:
        logger.warning("%s: %s", folder, w)
    info = SourceInfo(
        ch_names=tuple(meta["ch_names"]), sfreq=float(meta["sfreq"]),
        board=str(meta.get("board", "")), unit="uV",
        extra={"live": False, "recording": str(folder)},
    )
    return Recording(info, meta, data, timestamps, markers, trace, folder, warn)


def open_recording(path: str | os.PathLike) -> Recording:
    """Open a recording: a neurofb folder, or an EDF/EDF+/BDF, FIF or BrainFlow CSV file.

    Parameters
    ----------
    path : path-like
        The recording folder (or its meta.json), or a file in one of the formats
        :func:`neurofb.formats.read_file` reads.

    Returns
    -------
    Recording
        Data in µV, shape (n_channels, n_samples).

    Raises
    ------
    RecordingError
        If the path is missing, not a recording, damaged, or of an unknown format.
    """
    p = Path(path)
    if not p.exists():
        raise RecordingError(f"{p} does not exist: give a recording folder or file")
    if p.is_file() and p.name == META:
        p = p.parent
    if p.is_dir():
        return read_folder(p)
    try:
        from neurofb import formats
    except ImportError as err:
        raise RecordingError(f"cannot read {p}: file-format support is missing ({err})") from err
    return formats.read_file(p)


# ---------------------------------------------------------------------------------------------
# Interrupted recordings


def _is_live(folder: Path) -> bool:
    """Whether the process that opened ``folder`` for writing still runs (on this host)."""
    with ACTIVE_LOCK:
        if str(folder.resolve()) in ACTIVE:
            return True
    try:
        lock = json.loads((folder / OPEN).read_text(encoding="utf-8"))
        pid, host = int(lock["pid"]), str(lock["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname():  # another machine: trust it while it keeps writing
        try:
            return time.time() - (folder / EEG).stat().st_mtime < 60
        except OSError:
            return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def find_interrupted(
    root: str | os.PathLike | None = None, *, recursive: bool = True
) -> list[Path]:
    """Return recording folders under ``root`` left open by a process that no longer runs.

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
    return sorted(p for p in found if not _is_live(p))


def _summary(folder: Path, meta: dict) -> dict | None:
    """The session summary of a recording without one, or None when it holds no samples."""
    from neurofb.library_summary import summarise_recording

    try:
        recording = read_folder(folder)
    except RecordingError as err:
        logger.warning("no summary for %s: %s", folder, err)
        return None
    return summarise_recording(replace(recording, meta=meta)).to_dict()


def finalise_interrupted(path: str | os.PathLike) -> dict:
    """Close a recording a crash left open: count its samples, finalise meta, remove ``.open``.

    A partial last row of eeg.bin is cut off. meta.json gets ``complete``, ``interrupted: true``,
    ``n_samples``, ``duration_s``, the end time (start + duration) and, unless it has one, the
    session summary computed from its trace and markers
    (:func:`neurofb.library_summary.summarise_recording`).

    Returns
    -------
    dict
        The new meta.json content.

    Raises
    ------
    RecordingError
        If meta.json is damaged or the folder cannot be written.
    """
    folder = Path(path)
    meta = read_meta(folder)
    if meta.get("complete") and not (folder / OPEN).exists():
        return meta
    _, row_bytes = _row_layout(meta)
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
        )
        if not isinstance(meta.get("summary"), dict):
            meta["summary"] = _summary(folder, meta)
        write_json_atomic(folder / META, meta)
        (folder / OPEN).unlink(missing_ok=True)
    except OSError as err:
        raise RecordingError(f"cannot finalise {folder}: {err.strerror or err}") from err
    logger.info("finalised interrupted recording %s (%d samples)", folder, n)
    return meta


def finalise_all_interrupted(
    root: str | os.PathLike | None = None, *, recursive: bool = True
) -> list[Path]:
    """Finalise every interrupted recording under ``root``; return those finalised.

    Meant for start-up (:class:`RecordingWriter` calls it on the folder it records into). A
    recording that cannot be finalised is logged and left as it is.
    """
    done = []
    for folder in find_interrupted(root, recursive=recursive):
        try:
            finalise_interrupted(folder)
            done.append(folder)
        except RecordingError as err:
            logger.warning("could not finalise %s: %s", folder, err)
    return done
