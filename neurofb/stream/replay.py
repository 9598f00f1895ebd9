"""A recording played back as a :class:`~neurofb.stream.source.Source`.

A replay is only another source; the pipeline is the same code at every speed (live and replay
are the same pipeline, only the source differs; :func:`neurofb.stream.assemble.open_stream`
assembles both):

- ``speed=1`` keeps the recording's own pace. The number of samples due is computed from a
  monotonic clock anchored at :meth:`ReplaySource.start` (``index = elapsed × speed × sfreq``),
  never from accumulated sleeps, so the replay does not drift however long it runs (BrainFlow's
  playback board, which sleeps between samples, runs slow).
- ``speed=N`` plays N× real time the same way.
- ``speed=None`` ("max") hands out large chunks (``batch_s`` of samples, 60 s by default) as
  fast as they are read, so the pipeline computes many windows in one batched call.

Looping (``loop=True``) starts again from the beginning when the end is reached; the samples keep
their running ``first_sample`` count and the timestamps keep increasing (each lap is shifted by
the recording's length plus one sample period), so the pipeline sees one continuous stream (its
filters ring briefly at the seam where the end meets the beginning). :meth:`ReplaySource.seek`
jumps the same way: the stream stays continuous in sample count and the pace is re-anchored.

Updates depend only on the samples and the model, never on the chunking, so for the same
recording and model a replay gives the same trace (``latency_ms`` aside) at every speed and from
run to run.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from neurofb.errors import BoardError, EndOfStream, RecordingError
from neurofb.recording.base import Recording, recorded_simulation
from neurofb.recording.formats import open_recording
from neurofb.types import Chunk, Marker, SourceInfo

__all__ = ["MAX_SPEED", "MIN_SPEED", "ReplaySource"]

logger = logging.getLogger(__name__)

#: Slowest and fastest paced replay (× real time); ``speed=None`` plays as fast as possible.
MIN_SPEED, MAX_SPEED = 0.01, 10_000.0
#: Markers a replay does not hand on: the replay is a session of its own.
_OWN_KINDS = ("session_start", "session_end")


class ReplaySource:
    """A recording played back as a :class:`~neurofb.stream.brainflow.Source`.

    Parameters
    ----------
    recording_or_path : Recording or path-like
        An opened recording, or anything :func:`neurofb.recording.formats.open_recording` opens
        (a neurofb folder, EDF/EDF+/BDF, FIF, BrainFlow CSV).
    speed : float or None
        1.0 for the recording's own pace, N for N× real time (:data:`MIN_SPEED` to
        :data:`MAX_SPEED`), None for as fast as possible.
    loop : bool
        Start again from the beginning at the end instead of raising EndOfStream.
    chunk_s : float
        At a paced speed, :meth:`read` returns None until at least this many seconds of
        recording are due (a real board delivers chunks about this size).
    batch_s : float
        At ``speed=None``, seconds of recording per chunk.
    clock : callable
        Monotonic clock in seconds (``time.monotonic``); replaceable to simulate long runs.
    seconds : float, optional
        Deliver this many seconds of recording (counted from the first start, across laps and
        seeks), then end the stream (raise EndOfStream). Without it a looping replay runs until
        it is stopped.
    markers : bool
        Hand the recording's own markers (blocks, rewards, notes, …; not its ``session_start``
        and ``session_end``, a replay is a session of its own) to :meth:`take_markers` as their
        samples are read, re-timed to the stream (for the outputs of ``neurofb replay``).
    """

    def __init__(
        self,
        recording_or_path: Recording | str | os.PathLike,
        *,
        speed: float | None = 1.0,
        loop: bool = False,
        chunk_s: float = 0.1,
        batch_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        seconds: float | None = None,
        markers: bool = False,
    ) -> None:
        if speed is not None and not (math.isfinite(speed) and MIN_SPEED <= speed <= MAX_SPEED):
            raise ValueError(f"speed must be between {MIN_SPEED:g} and {MAX_SPEED:g} (× real "
                             f"time) or None (as fast as possible), got {speed!r}")
        if not chunk_s > 0:
            raise ValueError(f"chunk_s must be positive seconds, got {chunk_s}")
        if not batch_s > 0:
            raise ValueError(f"batch_s must be positive seconds, got {batch_s}")
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"seconds must be a positive number of seconds, got {seconds!r}")
        rec = (
            recording_or_path
            if isinstance(recording_or_path, Recording)
            else open_recording(recording_or_path)
        )
        if rec.n_samples == 0:
            raise ValueError("the recording holds no samples")
        self.recording = rec
        #: Why the replay ended before the end of the recording (a file that became
        #: unreadable), or None.
        self.error: str | None = None
        self.speed = None if speed is None else float(speed)
        self.loop = bool(loop)
        self._clock = clock
        sfreq = rec.sfreq
        self._chunk_n = max(1, round(chunk_s * sfreq))
        self._batch_n = max(1, round(batch_s * sfreq))
        self.path = rec.path
        limit = math.inf if seconds is None else seconds * sfreq
        self._limit = limit if limit >= 2**62 else max(1, round(limit))  # 1e308 s: no limit
        self.info = SourceInfo(
            ch_names=rec.ch_names,
            sfreq=sfreq,
            board=rec.info.board or "replay",
            unit="uV",
            live=False,
            # a recording of BrainFlow's synthetic board holds its sines: gated as it was live
            simulated=recorded_simulation(rec),
            details={
                "replay": "" if rec.path is None else str(rec.path),
                "duration_s": rec.duration_s,
                "speed": "max" if speed is None else float(speed),
                "loop": self.loop,
            },
        )
        ts = rec.timestamps
        self._lap_s = float(ts[-1]) - float(ts[0]) + 1.0 / sfreq
        self._lock = threading.Lock()
        self._pos = 0  # index in the recording of the next sample
        self._delivered = 0  # samples handed out since the first start (first_sample)
        self._laps = 0
        self._started = False
        self._anchor_t = 0.0
        self._anchor_n = 0
        # the recording's markers by the sample they fell on, for take_markers
        kept = [m for m in rec.markers if m.kind not in _OWN_KINDS] if markers else []
        kept.sort(key=lambda m: m.t)
        self._marks = kept
        self._mark_at = np.array(
            [min(max(round(m.t * sfreq), 0), rec.n_samples - 1) for m in kept], dtype=np.int64)
        self._due: list[Marker] = []

    # -- Source protocol -------------------------------------------------------------------
    def start(self) -> None:
        """Start (or resume) playing from the current position; the pace is anchored now."""
        with self._lock:
            if not self._started:
                self._anchor()
                self._started = True

    def read(self) -> Chunk | None:
        """Return the samples due since the last read, or None when none are due yet.

        Raises
        ------
        EndOfStream
            At the end of the recording (never when looping).
        BoardError
            When the replay was not started.
        """
        with self._lock:
            if not self._started:
                raise BoardError("the replay is not started: start() it first")
            if self._delivered >= self._limit:
                raise EndOfStream(f"replayed the {self._limit / self.info.sfreq:g} s asked for")
            left = self.recording.n_samples - self._pos
            if left <= 0 and not self.loop:
                where = "" if self.path is None else str(self.path)
                raise EndOfStream(f"end of recording {where}".strip())
            if self.speed is None:
                n = self._batch_n
            else:
                elapsed = self._clock() - self._anchor_t
                n = self._anchor_n + int(elapsed * self.speed * self.info.sfreq) - self._delivered
                if n < (self._chunk_n if self.loop else min(self._chunk_n, left)):
                    return None
            n = n if self.loop else min(n, left)
            return self._take(int(min(n, self._limit - self._delivered)))

    def stop(self) -> None:
        """Pause the replay (idempotent); :meth:`start` resumes from the same sample."""
        with self._lock:
            self._started = False

    def restart(self) -> None:
        """Resume from the current position with the pace anchored anew."""
        with self._lock:
            self._anchor()
            self._started = True

    # -- replay controls -------------------------------------------------------------------
    def seek(self, t_s: float) -> None:
        """Jump to ``t_s`` seconds into the recording; the pace is re-anchored there.

        The sample count (``first_sample``) and timestamps stay continuous; the signal jumps.

        Raises
        ------
        ValueError
            If ``t_s`` is outside ``[0, duration_s]``.
        """
        duration = self.recording.duration_s
        if not (math.isfinite(t_s) and t_s >= 0):
            raise ValueError(f"seek time must be a number of seconds >= 0, got {t_s}")
        if t_s > duration:
            raise ValueError(f"seek to {t_s:g} s is past the end of the recording "
                             f"({duration:.1f} s)")
        with self._lock:
            self._pos = min(round(t_s * self.info.sfreq), self.recording.n_samples)
            self._anchor()

    def take_markers(self) -> list[Marker]:
        """The recording's markers read since the last call, oldest first (``markers=True``).

        Each is timed on the stream: ``t`` is the stream time of the sample it fell on (the
        sample count since the first start, over the sampling rate), so after a seek or a lap
        it keeps its place in the signal.
        """
        with self._lock:
            due, self._due = self._due, []
        return due

    @property
    def position_s(self) -> float:
        """Seconds into the recording of the next sample to be read."""
        return self._pos / self.info.sfreq

    @property
    def samples_delivered(self) -> int:
        """Samples handed out since the first start (all laps)."""
        return self._delivered

    # -- helpers ---------------------------------------------------------------------------
    def _anchor(self) -> None:
        self._anchor_t = self._clock()
        self._anchor_n = self._delivered

    def _take(self, n: int) -> Chunk:
        """The next ``n`` samples, wrapping round to the start (next lap) when looping."""
        rec = self.recording
        data, stamps = [], []
        while n > 0:
            if self._pos >= rec.n_samples:
                self._pos, self._laps = 0, self._laps + 1
            a = self._pos
            b = min(rec.n_samples, a + n)
            try:  # read from disk (a reader's TimeSeries) only the samples due
                data.append(rec.data[:, a:b])
                stamps.append(rec.timestamps[a:b] + self._laps * self._lap_s)
            except (RecordingError, OSError) as err:
                self.error = f"the replay stopped at {a / rec.sfreq:.1f} s: {err}"
                logger.info(self.error)  # the caller says it (CLI warning, app banner)
                raise EndOfStream(self.error) from None
            if len(self._mark_at):
                first = self._delivered + sum(d.shape[1] for d in data[:-1]) - a
                lo, hi = np.searchsorted(self._mark_at, [a, b], "left")
                self._due.extend(
                    replace(m, t=float(first + at) / rec.sfreq)
                    for m, at in zip(self._marks[lo:hi], self._mark_at[lo:hi].tolist(),
                                     strict=True))
            self._pos, n = b, n - (b - a)
        chunk = Chunk(
            data=np.ascontiguousarray(np.concatenate(data, axis=1), dtype=np.float64),
            timestamps=np.concatenate(stamps).astype(np.float64, copy=False),
            ch_names=self.info.ch_names,
            sfreq=self.info.sfreq,
            first_sample=self._delivered,
            board=self.info.board,
            unit="uV",
        )
        self._delivered += chunk.n_samples
        return chunk

    def __repr__(self) -> str:
        speed = "max" if self.speed is None else f"{self.speed:g}x"
        where = self.path.name if self.path is not None else "memory"
        return f"ReplaySource({where!r}, speed={speed}, loop={self.loop})"
