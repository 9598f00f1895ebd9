"""Counting a stream's updates for the CLI's live line and summary (``stream``, ``replay``).

When a stream writes a trace, the summary is read back from the trace file instead
(:func:`neurofb.recording.trace.trace_stats`), so it matches what was written whatever stopped
the stream; the tally serves streams without a trace.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

__all__ = ["Tally"]


class Tally:
    """Counts what a stream delivered; updated on the runner thread, read on the main one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last: Any = None
        self.updates = 0
        self.gated = 0
        self.focus_sum = 0.0
        self.quality_sum = 0.0
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        #: Set at the first focus value: the live line shows it at once, not at the next tick.
        self.first_focus = threading.Event()

    def on_update(self, update: Any) -> None:
        """Count one update (a runner update listener)."""
        with self.lock:
            self.last = update
            self.updates += 1
            self.quality_sum += update.quality
            if update.focus is None:
                self.gated += 1
            else:
                self.focus_sum += update.focus
        if update.focus is not None:
            self.first_focus.set()

    @property
    def mean_focus(self) -> float | None:
        """Mean focus over the updates that had one."""
        n = self.updates - self.gated
        return self.focus_sum / n if n else None

    @property
    def mean_quality(self) -> float | None:
        """Mean signal quality over every update."""
        return self.quality_sum / self.updates if self.updates else None

    def stats(self) -> Any:
        """The counts as a :class:`~neurofb.recording.trace.TraceStats`."""
        from neurofb.recording.trace import TraceStats

        with self.lock:
            last_t = None if self.last is None else float(self.last.t)
            return TraceStats(self.updates, self.gated, self.mean_focus, self.mean_quality,
                              last_t)
