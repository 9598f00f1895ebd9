"""Replay a recording through the live pipeline: a :class:`ReplaySource` and :func:`replay`.

A replay is only another :class:`~neurofb.sources.Source`; the pipeline is the same code at every
speed (live and replay are the same pipeline, only the source differs):

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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from neurofb.config import EngineConfig
from neurofb.errors import BoardError, EndOfStream
from neurofb.recording import Recording, open_recording
from neurofb.types import Chunk, SourceInfo, Update

if TYPE_CHECKING:
    from neurofb.pipeline import Pipeline

logger = logging.getLogger(__name__)


class ReplaySource:
    """A recording played back as a :class:`~neurofb.sources.Source`.

    Parameters
    ----------
    recording_or_path : Recording or path-like
        An opened recording, or anything :func:`neurofb.recording.open_recording` opens (a
        neurofb folder, EDF/EDF+/BDF, FIF, BrainFlow CSV).
    speed : float or None
        1.0 for the recording's own pace, N for N× real time, None for as fast as possible.
    loop : bool
        Start again from the beginning at the end instead of raising EndOfStream.
    chunk_s : float
        At a paced speed, :meth:`read` returns None until at least this many seconds of
        recording are due (a real board delivers chunks about this size).
    batch_s : float
        At ``speed=None``, seconds of recording per chunk.
    clock : callable
        Monotonic clock in seconds (``time.monotonic``); replaceable to simulate long runs.
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
    ) -> None:
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a positive number or None (max), got {speed!r}")
        if not chunk_s > 0:
            raise ValueError(f"chunk_s must be positive seconds, got {chunk_s}")
        if not batch_s > 0:
            raise ValueError(f"batch_s must be positive seconds, got {batch_s}")
        rec = (
            recording_or_path
            if isinstance(recording_or_path, Recording)
            else open_recording(recording_or_path)
        )
        if rec.n_samples == 0:
            raise ValueError("the recording holds no samples")
        self.recording = rec
        self.speed = None if speed is None else float(speed)
        self.loop = bool(loop)
        self._clock = clock
        sfreq = rec.sfreq
        self._chunk_n = max(1, round(chunk_s * sfreq))
        self._batch_n = max(1, round(batch_s * sfreq))
        where = str(rec.path) if rec.path is not None else ""
        self.info = SourceInfo(
            ch_names=rec.ch_names,
            sfreq=sfreq,
            board=rec.info.board or "replay",
            unit="uV",
            extra={
                "live": False,
                "replay": where,
                "duration_s": rec.duration_s,
                "speed": "max" if speed is None else float(speed),
                "loop": self.loop,
            },
        )
        ts = rec.timestamps
        self._lap_s = float(ts[-1] - ts[0]) + 1.0 / sfreq
        self._lock = threading.Lock()
        self._pos = 0  # index in the recording of the next sample
        self._delivered = 0  # samples handed out since the first start (first_sample)
        self._laps = 0
        self._started = False
        self._anchor_t = 0.0
        self._anchor_n = 0

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
            left = self.recording.n_samples - self._pos
            if left <= 0 and not self.loop:
                raise EndOfStream(f"end of recording {self.info.extra['replay']}".strip())
            if self.speed is None:
                n = self._batch_n
            else:
                elapsed = self._clock() - self._anchor_t
                n = self._anchor_n + int(elapsed * self.speed * self.info.sfreq) - self._delivered
                if n < (self._chunk_n if self.loop else min(self._chunk_n, left)):
                    return None
            return self._take(n if self.loop else min(n, left))

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
        if not (math.isfinite(t_s) and 0 <= t_s <= duration):
            raise ValueError(f"seek time must be within [0, {duration:.3f}] s, got {t_s}")
        with self._lock:
            self._pos = min(round(t_s * self.info.sfreq), self.recording.n_samples)
            self._anchor()

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
            data.append(rec.data[:, a:b])
            stamps.append(rec.timestamps[a:b] + self._laps * self._lap_s)
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
        where = Path(self.info.extra["replay"]).name if self.info.extra["replay"] else "memory"
        return f"ReplaySource({where!r}, speed={speed}, loop={self.loop})"


def default_target(model_dir: str | os.PathLike | None = None) -> str:
    """``"model"`` when a trained model is there (``model_dir`` or the shipped default), else
    the band-power ``"engagement"`` target."""
    from neurofb import paths

    folder = Path(model_dir) if model_dir is not None else paths.default_model_dir()
    return "model" if (folder / "model.json").is_file() else "engagement"


def replay(
    recording_or_path: Recording | str | os.PathLike,
    *,
    speed: float | None = None,
    model_dir: str | os.PathLike | None = None,
    target: str | None = None,
    config: EngineConfig | None = None,
    hop_s: float | None = None,
    window_s: float | None = None,
    trace_path: str | os.PathLike | None = None,
    loop: bool = False,
    seek_s: float = 0.0,
    seconds: float | None = None,
    on_update: Callable[[Update], object] | None = None,
) -> list[Update]:
    """Run a recording through the live pipeline and return its updates.

    At ``speed=None`` (max) the chunks go straight into :meth:`Pipeline.process` on this thread;
    at a paced speed a :class:`~neurofb.runner.StreamRunner` runs them as a live stream would.
    The pipeline is the same either way, so the updates are the same (``latency_s`` aside).

    Parameters
    ----------
    recording_or_path : Recording or path-like
        What to replay (neurofb folder, EDF/EDF+/BDF, FIF, BrainFlow CSV).
    speed : float or None
        None for as fast as possible, 1.0 for real time, N for N× real time.
    model_dir : path-like, optional
        Focus model folder (default: the shipped model).
    target : str, optional
        Focus target (``"model"``, ``"engagement"``, ``"tbr"``, …); default :func:`default_target`.
    config : EngineConfig, optional
        Engine settings; ``hop_s`` and ``window_s`` override its fields.
    trace_path : path-like, optional
        Write the focus trace CSV here.
    loop, seek_s : bool, float
        Loop the recording; start ``seek_s`` seconds into it.
    seconds : float, optional
        Stop after this many seconds of recording (required with ``loop``).
    on_update : callable, optional
        Called with every update as it comes (on the runner thread at a paced speed).

    Returns
    -------
    list of Update
        Every update, oldest first.
    """
    from neurofb.focus.targets import make_estimator
    from neurofb.pipeline import Pipeline
    from neurofb.trace import TraceWriter

    if loop and not seconds:
        raise ValueError("a looping replay needs seconds= to know when to stop")
    if seconds is not None and not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    config = (config or EngineConfig()).with_(hop_s=hop_s, window_s=window_s)
    source = ReplaySource(recording_or_path, speed=speed, loop=loop)
    if seek_s:
        source.seek(seek_s)
    estimator = make_estimator(
        target or default_target(model_dir), model_dir=model_dir, baseline_s=config.baseline_s
    )
    pipeline = Pipeline(source.info, estimator, config)
    limit = math.inf if seconds is None else round(seconds * source.info.sfreq)
    updates: list[Update] = []
    listeners: list[Callable[[Update], object]] = [updates.append]
    trace = TraceWriter(trace_path) if trace_path is not None else None
    if trace is not None:
        listeners.append(trace.write)
    if on_update is not None:
        listeners.append(on_update)
    try:
        if speed is None:
            _run_max(source, pipeline, listeners, limit)
        else:
            _run_paced(source, pipeline, listeners, limit)
    finally:
        if trace is not None:
            trace.close()
    return updates


def _run_max(source: ReplaySource, pipeline: Pipeline, listeners: list, limit: float) -> None:
    source.start()
    try:
        while source.samples_delivered < limit:
            try:
                chunk = source.read()
            except EndOfStream:
                return
            if chunk is None:  # never at max speed; kept for the Source contract
                continue
            if source.samples_delivered > limit:  # cut the last chunk at the limit
                keep = chunk.n_samples - int(source.samples_delivered - limit)
                chunk = Chunk(chunk.data[:, :keep], chunk.timestamps[:keep], chunk.ch_names,
                              chunk.sfreq, chunk.first_sample, chunk.board, chunk.unit)
            for update in pipeline.process(chunk):
                for listener in listeners:
                    listener(update)
    finally:
        source.stop()


def _run_paced(source: ReplaySource, pipeline: Pipeline, listeners: list, limit: float) -> None:
    from neurofb.runner import StreamRunner

    runner = StreamRunner(source, pipeline)
    for listener in listeners:
        runner.add_update_listener(listener)
    runner.start()
    try:
        while not runner.join(timeout=0.05):
            if runner.samples >= limit:
                break
    finally:
        runner.stop()
