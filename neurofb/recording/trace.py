"""The focus trace as CSV: one row per pipeline update, flushed as it goes.

Columns: ``t`` (seconds since start of the newest sample in the window), ``focus`` (empty when
gated), ``raw_focus`` (before smoothing, empty when gated), ``quality`` (0–1), ``reason`` (why the
window was gated or its quality is low, empty when fine), ``latency_ms`` (age of the newest sample
when the update was emitted; varies from run to run, everything else is deterministic for replays).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

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
        CSV file to create (its folder is created; an existing file is replaced).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", newline="", buffering=1, encoding="utf-8")
        self._csv = csv.writer(self._fh)
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
