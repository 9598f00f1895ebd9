"""The LSL time of a stream's samples: the clock an output stamps, and markers-in read.

Every LSL timestamp is on liblsl's ``local_clock()`` (monotonic seconds). neurofb's own time is
the sample count: an :class:`~neurofb.types.Update` at ``t`` is the window that ends with sample
``n = t · sfreq`` (the sample with index ``n − 1``); a :class:`~neurofb.types.Marker` at ``t`` lies
before sample ``t · sfreq``. :class:`StreamClock` maps one onto the other, from the chunks the
stream delivers:

- **live sources** (a BrainFlow board, an LSL inlet) stamp each sample with Unix time when it
  arrived (an LSL inlet's stamps are the sender's, moved onto this machine's clock). The LSL
  time of a sample is its Unix stamp minus ``time.time() − local_clock()`` (measured once, when
  the clock is made; the LSL source passes its own offset so its stamps go back exactly).
- **replays** have the recording's clock, not this machine's: sample ``k`` is given the LSL time
  ``start + k / sfreq``, where ``start`` makes the first chunk's last sample "now". At speed 1
  that is when the sample was played.

Between chunks the clock extrapolates at the nominal rate from the latest chunk. A live
stream's gap (samples stopped, then resumed: they lie back to back in the sample count) is
kept in view for :data:`SPANS` chunks: an LSL time inside a gap maps to the first sample after
it, not to a sample counted at the nominal rate from either side.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable

from neurofb.types import Chunk

__all__ = ["GAP_S", "SPANS", "StreamClock"]

#: Live chunks whose LSL time spans the clock keeps, to place a time that falls in a gap.
SPANS = 256
#: Seconds between two chunks' samples beyond one sample period that make a gap (jitter less).
GAP_S = 0.25


class StreamClock:
    """Map sample counts of a stream to LSL time and back.

    Parameters
    ----------
    sfreq : float
        The stream's sampling rate in Hz.
    live : bool
        True when chunk timestamps are Unix times of this machine (live sources); False for a
        replay (see the module docstring).
    unix_minus_lsl : float, optional
        ``time.time() − local_clock()`` to use for live stamps (default measured now).
    lsl_clock : callable
        liblsl's ``local_clock`` (replaceable for tests of the arithmetic).
    """

    def __init__(
        self,
        sfreq: float,
        *,
        live: bool,
        unix_minus_lsl: float | None = None,
        lsl_clock: Callable[[], float] | None = None,
    ) -> None:
        if not sfreq > 0:
            raise ValueError(f"sfreq must be positive, got {sfreq}")
        if lsl_clock is None:
            from neurofb.lsl import local_clock

            lsl_clock = local_clock
        self.sfreq = float(sfreq)
        self.live = bool(live)
        self._lsl_clock = lsl_clock
        self.unix_minus_lsl = (time.time() - lsl_clock() if unix_minus_lsl is None
                               else float(unix_minus_lsl))  # fmt: skip
        self._lock = threading.Lock()
        self._chunk: Chunk | None = None
        self._replay_start: float | None = None
        # live: (first sample, LSL time of the first, of the last) of recent chunks
        self._spans: deque[tuple[int, float, float]] = deque(maxlen=SPANS)

    @property
    def ready(self) -> bool:
        """Whether a chunk has arrived (before that, times are only extrapolated from now)."""
        return self._chunk is not None

    def on_chunk(self, chunk: Chunk) -> None:
        """Chunk listener: take the chunk as the clock's newest reference."""
        with self._lock:
            if not self.live and self._replay_start is None:
                end = chunk.first_sample + chunk.n_samples
                self._replay_start = self._lsl_clock() - (end - 1) / self.sfreq
            if self.live and chunk.n_samples:
                self._spans.append((chunk.first_sample,
                                    float(chunk.timestamps[0]) - self.unix_minus_lsl,
                                    float(chunk.timestamps[-1]) - self.unix_minus_lsl))
            self._chunk = chunk

    def newest_lsl_time(self) -> float | None:
        """LSL time of the newest sample delivered (None before the first chunk)."""
        with self._lock:
            chunk, start = self._chunk, self._replay_start
        if chunk is None:
            return None
        if not self.live:
            return None if start is None else start + (
                chunk.first_sample + chunk.n_samples - 1) / self.sfreq
        return float(chunk.timestamps[-1]) - self.unix_minus_lsl

    def lsl_time(self, index: int) -> float:
        """LSL time of the sample with index ``index`` (0-based since the stream started)."""
        with self._lock:
            chunk, start = self._chunk, self._replay_start
        if not self.live:
            if start is None:
                return self._lsl_clock()
            return start + index / self.sfreq
        if chunk is None:
            return self._lsl_clock()
        i = index - chunk.first_sample
        if 0 <= i < chunk.n_samples:
            return float(chunk.timestamps[i]) - self.unix_minus_lsl
        last = chunk.n_samples - 1
        return float(chunk.timestamps[last]) - self.unix_minus_lsl + (i - last) / self.sfreq

    def update_time(self, t: float) -> float:
        """LSL time of the newest sample of the window an update at ``t`` covers."""
        return self.lsl_time(round(t * self.sfreq) - 1)

    def stream_t(self, lsl_time: float) -> float:
        """Stream time (seconds since the start, as :class:`~neurofb.types.Marker` ``t``) of an
        LSL time: the count of samples before it, over the sampling rate (never negative)."""
        with self._lock:
            chunk, start = self._chunk, self._replay_start
        if not self.live:
            if start is None:
                return 0.0
            return max((lsl_time - start) * self.sfreq, 0.0) / self.sfreq
        if chunk is None:
            return 0.0
        last = chunk.n_samples - 1
        anchor = float(chunk.timestamps[last]) - self.unix_minus_lsl
        index = chunk.first_sample + last + (lsl_time - anchor) * self.sfreq
        resumed = self._after_gap(lsl_time)
        if resumed is not None:
            index = resumed
        return max(index, 0.0) / self.sfreq

    def _after_gap(self, lsl_time: float) -> int | None:
        """The first sample after a gap that ``lsl_time`` falls in (None when it falls in no
        gap of the spans kept: counting at the nominal rate is then right)."""
        with self._lock:
            spans = list(self._spans)
        step = 1.0 / self.sfreq
        for (_, _, last_t), (first, first_t, _) in itertools.pairwise(spans):
            if first_t - last_t > GAP_S and last_t + step <= lsl_time < first_t:
                return first
        return None
