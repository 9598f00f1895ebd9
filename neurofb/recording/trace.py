"""The focus trace as CSV: one row per pipeline update, flushed as it goes.

Columns: ``t`` (seconds since start of the newest sample in the window), ``focus`` (empty when
gated), ``raw_focus`` (before smoothing, empty when gated), ``quality`` (0–1), ``reason`` (why the
window was gated or its quality is low, empty when fine), ``latency_ms`` (age of the newest sample
when the update was emitted; varies from run to run, everything else is deterministic for replays).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

from neurofb.errors import RecordingError
from neurofb.types import Update

COLUMNS = ("t", "focus", "raw_focus", "quality", "reason", "latency_ms")


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def update_row(update: Update) -> list[str]:
    """Return the CSV cells of one update, in :data:`COLUMNS` order."""
    return [
        f"{update.t:.4f}",
        _fmt(update.focus, 6),
        _fmt(update.raw_focus, 6),
        f"{update.quality:.4f}",
        update.reason,
        f"{update.latency_s * 1000:.2f}",
    ]


class TraceWriter:
    """Append pipeline updates to a CSV file, line-buffered so a crash loses at most one row.

    Parameters
    ----------
    path : path-like
        CSV file to create, in a folder that exists.
    overwrite : bool
        Replace an existing file (without it an existing file is an error: a trace never
        silently replaces a file).

    Raises
    ------
    RecordingError
        The file exists (without ``overwrite``), is a folder, or cannot be created.
    """

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        self.path = Path(path)
        try:
            self._fh = open(self.path, "w" if overwrite else "x", newline="", buffering=1,
                            encoding="utf-8")
        except FileExistsError:
            raise RecordingError(f"{self.path} exists: neurofb never overwrites a file; choose "
                                 "another name or pass --force to replace it") from None
        except OSError as err:
            raise RecordingError(f"cannot write the trace {self.path}: "
                                 f"{err.strerror or err}") from None
        self._csv = csv.writer(self._fh, lineterminator="\n")  # as the recording's trace.csv
        self._csv.writerow(COLUMNS)
        self.rows = 0

    def write(self, update: Update) -> None:
        """Append one update."""
        self._csv.writerow(update_row(update))
        self.rows += 1

    def close(self) -> None:
        """Flush and close the file (safe to call twice)."""
        if not self._fh.closed:
            self._fh.flush()
            self._fh.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_trace(path: str | os.PathLike) -> list[dict[str, str]]:
    """Read a trace CSV back as a list of row dicts (strings, as written)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class TraceStats:
    """What a trace file holds: its rows, how many were gated, mean focus and quality.

    Parameters
    ----------
    rows : int
        Update rows in the file.
    gated : int
        Rows without a focus value.
    mean_focus, mean_quality : float or None
        Means over the rows that have one (None when none has).
    last_t : float or None
        Stream time of the last row (s).
    """

    rows: int = 0
    gated: int = 0
    mean_focus: float | None = None
    mean_quality: float | None = None
    last_t: float | None = None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def trace_stats(path: str | os.PathLike) -> TraceStats:
    """Count and average a trace file as it is on disk, a row at a time (any length).

    A summary printed from these figures matches what was written, whatever stopped the stream.
    """
    rows = gated = n_quality = 0
    focus_sum = quality_sum = 0.0
    last_t = None
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.DictReader(fh):
            if None in row or row.get("t") is None:
                continue  # a line cut short
            rows += 1
            focus = _number(row.get("focus"))
            if focus is None:
                gated += 1
            else:
                focus_sum += focus
            quality = _number(row.get("quality"))
            if quality is not None:
                quality_sum += quality
                n_quality += 1
            last_t = _number(row.get("t"))
    n_focus = rows - gated
    return TraceStats(rows, gated, focus_sum / n_focus if n_focus else None,
                      quality_sum / n_quality if n_quality else None, last_t)
