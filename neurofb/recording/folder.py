"""Read neurofb recording folders (layout: :mod:`neurofb.recording.base`).

:func:`read_folder` reads what is on disk, repairing only what a crash can leave (a partial last
row, a torn last line); :func:`read_meta` reads and checks meta.json alone. Files in other
formats are read by :mod:`neurofb.recording.formats`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from pathlib import Path

import numpy as np

from neurofb.errors import RecordingError
from neurofb.recording.base import (
    DTYPES,
    EEG,
    FORMAT,
    FORMAT_VERSION,
    MARKERS,
    META,
    OPEN,
    TRACE,
    CachedRows,
    Recording,
    TimeSeries,
)
from neurofb.recording.trace import COLUMNS
from neurofb.types import MAX_SFREQ, Marker, SourceInfo

__all__ = ["read_folder", "read_meta", "row_layout"]

logger = logging.getLogger(__name__)

#: A backward step of the timestamp column larger than this (s) means eeg.bin does not fit meta.
MAX_BACKSTEP_S = 1.0


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
    if not _is_number(meta.get("sfreq")) or not 0 < meta["sfreq"] <= MAX_SFREQ:
        raise _bad_meta(folder, f"'sfreq' must be a sampling rate in Hz (above 0, at most "
                                f"{MAX_SFREQ:g}), got {meta.get('sfreq')!r}")
    if not isinstance(meta.get("dtype"), str) or meta["dtype"] not in DTYPES:
        raise _bad_meta(folder, f"'dtype' must be one of {sorted(DTYPES)}, got "
                                f"{meta.get('dtype')!r}")
    if meta.get("byte_order", "little") not in ("little", "big"):
        raise _bad_meta(folder, f"'byte_order' must be 'little' or 'big', got "
                                f"{meta.get('byte_order')!r}")
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


def row_layout(meta: dict) -> tuple[np.dtype, int]:
    """The on-disk dtype of one value of eeg.bin (byte order included) and the bytes per row."""
    dtype = np.dtype(DTYPES[meta["dtype"]])
    if meta.get("byte_order", "little") == "big":
        dtype = dtype.newbyteorder(">")
    return dtype, (len(meta["ch_names"]) + 1) * dtype.itemsize


class _Rows:
    """Rows ``[timestamp, ch1 .. chN]`` of eeg.bin, read a span at a time (never the whole)."""

    def __init__(self, eeg: Path, dtype: np.dtype, n_ch: int, n_rows: int) -> None:
        self.eeg, self.dtype, self.n_ch, self.n_rows = eeg, dtype, n_ch, n_rows
        self.row_bytes = (n_ch + 1) * dtype.itemsize

    def __call__(self, start: int, stop: int) -> np.ndarray:
        k = stop - start
        buf = np.empty((k, self.n_ch + 1), dtype=self.dtype)
        view = memoryview(buf).cast("B")
        try:
            with open(self.eeg, "rb") as fh:
                fh.seek(start * self.row_bytes)
                got = 0
                while got < view.nbytes and (n := fh.readinto(view[got:])):
                    got += n
        except OSError as err:
            raise RecordingError(f"cannot read {self.eeg}: {err.strerror or err}") from None
        if got != view.nbytes:
            raise RecordingError(f"{self.eeg} became shorter while it was read (rows "
                                 f"{start}:{stop} of {self.n_rows}); open the recording again")
        return buf


def _scan_clock(rows: _Rows, offset: float, eeg: Path, n_ch: int, block: int = 1 << 16) -> None:
    """Check the timestamp column is a clock, a block at a time (memory stays bounded)."""
    previous = None
    back = total = 0  # steps back: a clock's jitter now and then, never most of them
    for a in range(0, rows.n_rows, block):
        stamps = rows(a, min(a + block, rows.n_rows))[:, 0].astype(np.float64) + offset
        if previous is not None:
            stamps = np.concatenate([[previous], stamps])
        steps = np.diff(stamps)
        back += int(np.count_nonzero(steps < 0))
        total += steps.size
        if not np.all(np.isfinite(stamps)) or (steps.size and steps.min() < -MAX_BACKSTEP_S):
            raise RecordingError(
                f"{eeg}: the timestamp column is not a clock (non-finite or jumping back): "
                f"eeg.bin does not hold the {n_ch} channels + timestamp rows meta.json describes"
            )
        previous = stamps[-1]
    if back > total / 2:
        raise RecordingError(
            f"{eeg}: the timestamp column runs backwards ({back} of {total} steps): it is not a "
            "clock; eeg.bin is damaged or does not hold the rows meta.json describes")


def _read_eeg(folder: Path, meta: dict, warn: list[str]) -> tuple[TimeSeries, TimeSeries]:
    dtype, row_bytes = row_layout(meta)
    n_ch = len(meta["ch_names"])
    eeg = folder / EEG
    try:
        size = eeg.stat().st_size
    except FileNotFoundError as err:
        raise RecordingError(f"{folder} has no {EEG}: the recording holds no samples") from err
    except OSError as err:
        raise RecordingError(f"cannot read {eeg}: {err.strerror or err}") from err
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
    sfreq = float(meta["sfreq"])
    if rest:
        warn.append(f"{EEG} ends with a partial row ({rest} bytes), dropped: the recording "
                    "was interrupted while writing")
    if declared is not None and n_rows < declared:
        warn.append(f"{EEG} holds {n_rows} of the {declared} samples meta.json lists "
                    f"({n_rows / sfreq:.1f} of {declared / sfreq:.1f} s): the file was "
                    "truncated; reading what is there")
    rows = _Rows(eeg, dtype, n_ch, n_rows)
    offset = float(meta.get("timestamp_offset", 0.0))
    _scan_clock(rows, offset, eeg, n_ch)
    cached = CachedRows(rows)

    def data(start: int, stop: int) -> np.ndarray:
        return np.array(cached(start, stop)[:, 1:].T, dtype=np.float64, order="C")

    def stamps(start: int, stop: int) -> np.ndarray:
        return cached(start, stop)[:, 0].astype(np.float64) + offset

    return TimeSeries(data, (n_ch, n_rows)), TimeSeries(stamps, (n_rows,))


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
    for w in warn:  # returned in Recording.warnings for the caller to show
        logger.info("%s: %s", folder, w)
    info = SourceInfo(
        ch_names=tuple(meta["ch_names"]), sfreq=float(meta["sfreq"]),
        board=str(meta.get("board", "")), unit="uV",
        live=False, details={"recording": str(folder)},
    )
    return Recording(info, meta, data, timestamps, markers, trace, folder, warn)
