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
        #: The focus model's updates per operating mode, and when each mode first scored.
        self.modes: dict[str, int] = {}
        self.mode_from: dict[str, float] = {}

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
            mode = getattr(update, "mode", "")
            if mode:
                self.modes[mode] = self.modes.get(mode, 0) + 1
                self.mode_from.setdefault(mode, float(update.t))
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

    def mode_line(self, baseline_s: float, min_windows: int | None = None) -> str:
        """One summary line on the focus model's baseline mode ("" in plain cold mode);
        ``min_windows``: the clean windows the model's baseline needs (said when it failed)."""
        with self.lock:
            modes, first = dict(self.modes), dict(self.mode_from)
        if not baseline_s and set(modes) <= {"cold"}:
            return ""
        rest = modes.get("rest", 0)
        if "baseline" in modes:
            return (f"baseline mode: the first {baseline_s:g} s were the rest baseline "
                    f"({rest} windows scored cold meanwhile); {modes['baseline']} windows "
                    f"re-centred on it from t = {first['baseline']:.2f} s")
        if "baseline-failed" in modes:
            need = "" if min_windows is None else (
                f"; the model needs {min_windows} clean windows: a longer --baseline, or a "
                "shorter --hop, gives more")
            return (f"baseline mode: not taken: the first {baseline_s:g} s gave {rest} windows, "
                    f"too few clean ones{need}; scored in cold mode")
        if rest:
            return (f"baseline mode: still taking the {baseline_s:g} s rest baseline when the "
                    f"stream ended ({rest} windows, scored cold)")
        return ""

    def stats(self) -> Any:
        """The counts as a :class:`~neurofb.recording.trace.TraceStats`."""
        from neurofb.recording.trace import TraceStats

        with self.lock:
            last_t = None if self.last is None else float(self.last.t)
            return TraceStats(self.updates, self.gated, self.mean_focus, self.mean_quality,
                              last_t)
