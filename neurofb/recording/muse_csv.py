"""Muse recordings as CSV: Mind Monitor's export and muselsl's ``record``.

Columns are found by name (their set and order vary between app versions):

- **Mind Monitor** (header with ``TimeStamp`` and ``RAW_TP9``…``RAW_TP10``): one row per raw
  sample when its *Recording Interval* is *Constant* (256 Hz), with the app's band powers,
  accelerometer, head-band contact (``HSI_*``) … beside it. ``TimeStamp`` is the phone's local
  time (``2019-11-06 14:16:09.099``). Rows that carry only an ``Elements`` entry (a marker button
  ``/Marker/1``, a blink ``/muse/elements/blink``, a connection event) become markers. A file
  recorded at a 0.5–60 s interval holds averages, not EEG, and is refused with the setting to
  change.
- **muselsl** (header ``timestamps,TP9,AF7,AF8,TP10,Right AUX`` and, when a marker stream was
  recorded, ``Marker0``, ``Marker1`` …): one row per sample, timestamps in Unix time (muselsl's
  default, ``time()``) or on the LSL clock (told apart by size); a
  non-zero marker cell becomes a marker.

The raw EEG is in µV in both (Mind Monitor's sits around an 800 µV offset, which the band-pass
removes). AUX channels are dropped. The sampling rate is the Muse's (256 Hz, or 220 Hz for the
2014 model), recognised from the timestamps; samples are taken as evenly spaced from the first
one's time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import re
from pathlib import Path

import numpy as np

from neurofb.errors import RecordingError
from neurofb.recording.base import Recording, complete_lines, gap_warning
from neurofb.types import Marker, SourceInfo

__all__ = ["MUSE_RATES", "read_muse_csv", "sniff_muse"]

#: Timestamps above this (s; 2001-09-09) are Unix time: muselsl's default clock is ``time()``
#: (plus LSL's time correction); below it, an LSL ``local_clock`` (seconds since boot).
UNIX_2001 = 1e9
#: Sampling rates of Muse headbands, Hz.
MUSE_RATES: tuple[float, ...] = (256.0, 220.0)
_EEG = ("TP9", "AF7", "AF8", "TP10")
_MARKER_COLUMN = re.compile(r"^Marker\d*$", re.IGNORECASE)


def sniff_muse(first_line: str) -> str | None:
    """``"mindmonitor"``, ``"muselsl"`` or None from a CSV file's header line."""
    cells = [c.strip() for c in first_line.split(",")]
    if "TimeStamp" in cells and all(f"RAW_{e}" in cells for e in _EEG):
        return "mindmonitor"
    if cells and cells[0] == "timestamps" and len(cells) > 1:
        return "muselsl"
    return None


def _rate(stamps: np.ndarray, path: Path, what: str) -> float:
    if stamps.size < 3:
        raise RecordingError(f"{path} holds {stamps.size} samples: too few to replay")
    span = float(stamps[-1] - stamps[0])
    measured = (stamps.size - 1) / span if span > 0 else math.inf
    for rate in MUSE_RATES:
        if abs(measured - rate) <= 0.1 * rate:
            return rate
    if what == "mindmonitor" and measured < 100:
        raise RecordingError(
            f"{path} holds {measured:.2g} rows per second, not raw EEG: Mind Monitor averaged "
            "its recording. Set Mind Monitor's Recording Interval to 'Constant' to record the "
            "raw EEG at 256 Hz")  # fmt: skip
    raise RecordingError(f"{path}: its timestamps give {measured:.1f} samples per second, not a "
                         "Muse's 256 (or 220) Hz; it is damaged or not a Muse recording")


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], list[str]]:
    warn: list[str] = []
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as err:
        raise RecordingError(f"cannot read {path}: {err.strerror or err}") from None
    text = complete_lines(text, path.name, warn)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise RecordingError(f"{path} is empty")
    header = [c.strip() for c in rows[0]]
    return header, [r for r in rows[1:] if any(c.strip() for c in r)], warn


def _floats(rows: list[list[str]], cols: list[int], path: Path) -> np.ndarray:
    try:
        return np.array([[float(r[c]) for c in cols] for r in rows], dtype=np.float64).reshape(
            len(rows), len(cols))
    except (ValueError, IndexError) as err:
        raise RecordingError(f"{path} holds a sample that is not a number ({err}); it is "
                             "damaged") from None


def _mind_monitor(path: Path, header: list[str], rows: list[list[str]],
                  warn: list[str]) -> tuple[np.ndarray, np.ndarray, list[tuple[float, str]], dict]:
    ts_col = header.index("TimeStamp")
    eeg_cols = [header.index(f"RAW_{e}") for e in _EEG]
    el_col = header.index("Elements") if "Elements" in header else None
    samples, events = [], []
    for row in rows:
        cells = row + [""] * (len(header) - len(row))
        try:
            when = dt.datetime.fromisoformat(cells[ts_col].strip()).timestamp()
        except ValueError:
            raise RecordingError(f"{path}: {cells[ts_col]!r} is not a Mind Monitor TimeStamp "
                                 "(YYYY-MM-DD hh:mm:ss.fff); the file is damaged") from None
        if all(cells[c].strip() for c in eeg_cols):
            samples.append((when, cells))
        if el_col is not None and cells[el_col].strip():
            events.append((when, cells[el_col].strip()))
    if not samples:
        raise RecordingError(f"{path} holds no raw EEG rows (RAW_TP9…RAW_TP10 are empty)")
    stamps = np.array([w for w, _ in samples])
    data = _floats([c for _, c in samples], eeg_cols, path).T
    meta = {"source_format": "mindmonitor", "start_unix": float(stamps[0]),
            "start_time": dt.datetime.fromtimestamp(stamps[0]).isoformat(timespec="milliseconds")}
    warn.append(f"{path.name}: Mind Monitor writes the phone's local time; it is read as this "
                "computer's local time")  # fmt: skip
    return stamps, data, events, meta


def _muselsl(path: Path, header: list[str], rows: list[list[str]],
             warn: list[str]) -> tuple[np.ndarray, np.ndarray, list[tuple[float, str]], dict]:
    marker_cols = [i for i, c in enumerate(header) if _MARKER_COLUMN.match(c)]
    eeg_cols = [i for i, c in enumerate(header)
                if i > 0 and i not in marker_cols and "aux" not in c.lower()]  # fmt: skip
    if not eeg_cols:
        raise RecordingError(f"{path}: a muselsl header names no EEG channel ({header})")
    dropped = [c for i, c in enumerate(header) if i > 0 and i not in eeg_cols + marker_cols]
    if dropped:
        warn.append(f"{path.name}: {', '.join(dropped)} dropped (not EEG)")
    values = _floats(rows, [0, *eeg_cols], path)
    stamps, data = values[:, 0], values[:, 1:].T
    events = []
    for row in rows:
        for c in marker_cols:
            cell = row[c].strip() if c < len(row) else ""
            try:
                empty = cell == "" or float(cell) == 0.0
            except ValueError:
                empty = False  # a string marker
            if not empty:
                events.append((float(row[0]), cell))
    if stamps.size and stamps[0] > UNIX_2001:  # muselsl stamps with time() by default
        return stamps, data, events, {"source_format": "muselsl", "clock": "Unix time",
                                      "start_unix": float(stamps[0])}
    return stamps, data, events, {"source_format": "muselsl", "clock": "LSL (local_clock)"}


def read_muse_csv(path: str | os.PathLike) -> Recording:
    """Read a Mind Monitor or muselsl CSV recording.

    Parameters
    ----------
    path : path-like
        The CSV file.

    Returns
    -------
    Recording
        TP9, AF7, AF8, TP10 (or the channels muselsl named) in µV; timestamps in seconds
        (Unix time for Mind Monitor and for muselsl's default clock; otherwise muselsl's LSL
        clock, and then ``meta`` has no ``start_unix``); markers in seconds since the first
        sample.

    Raises
    ------
    RecordingError
        Neither format, an averaged (not raw) Mind Monitor file, damaged rows.
    """
    path = Path(path)
    header, rows, warn = _read_rows(path)
    kind = sniff_muse(",".join(header))
    if kind is None:
        raise RecordingError(f"{path} is neither a Mind Monitor nor a muselsl CSV")
    reader = _mind_monitor if kind == "mindmonitor" else _muselsl
    stamps, data, events, meta = reader(path, header, rows, warn)
    if not np.isfinite(data).all():
        raise RecordingError(f"{path} holds non-numeric or infinite samples; it is damaged")
    sfreq = _rate(stamps, path, kind)
    gaps = gap_warning(stamps, sfreq, path.name)
    if gaps:
        warn.append(gaps)
    n = stamps.size
    sample_no = np.arange(n, dtype=np.float64)
    markers = []
    for when, text in events:
        # the first sample stamped at or after the event (stamps repeat within a packet)
        t = min(int(np.searchsorted(stamps, when, "left")), n - 1) / sfreq
        label = text
        kind_name = "note"
        m = re.fullmatch(r"/?Marker/(\d+)", text)
        if m:
            kind_name, label = "label", f"marker {m.group(1)}"
        elif kind == "muselsl":
            kind_name = "label"
        markers.append(Marker(t, kind_name, label))
    names = [header[i] for i in range(len(header))]
    ch_names = _EEG if kind == "mindmonitor" else tuple(
        n for i, n in enumerate(names) if i > 0 and not _MARKER_COLUMN.match(n)
        and "aux" not in n.lower())
    meta.update(file=str(path), board="muse")
    info = SourceInfo(ch_names=tuple(ch_names), sfreq=sfreq, board="muse", live=False,
                      details={"recording": str(path), "format": kind})  # fmt: skip
    timestamps = float(stamps[0]) + sample_no / sfreq
    return Recording(info=info, meta=meta, data=np.ascontiguousarray(data), timestamps=timestamps,
                     markers=markers, path=path, warnings=warn)  # fmt: skip
