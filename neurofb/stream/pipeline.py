"""The real-time pipeline: chunks in, focus updates out — the same code live and in replay.

Per chunk: check it fits the stream → hold non-finite samples (they are marked, never filtered)
→ stateful MNE-designed filter → ring buffers (raw and filtered) → every window that ends in the
chunk (window ends at sample counts ``W + k·H``, whatever the chunking) is gathered into one
``(n_windows, n_channels, W)`` array → band powers, quality and the estimator run once each on the
whole batch → a short per-window loop does exponential smoothing and quality gating. In replay a
worker thread filters the next block and scores the batch's quality while band powers and focus
are computed here (two CPUs share the work; the numbers are the same).

Any chunking of the same samples — one sample at a time or an hour at once — gives the same
updates (except ``latency_s``). Large chunks are cut into blocks of at most ``max_batch_windows``
hops, so memory stays bounded.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace

import numpy as np

from neurofb.config import EngineConfig, usable_cpus
from neurofb.dsp.features import band_powers
from neurofb.dsp.filters import StreamFilter, design_filter
from neurofb.dsp.mains import detect_line_freq
from neurofb.dsp.quality import QualityReport, assess
from neurofb.errors import ChannelError
from neurofb.focus.bandpower import BandPowerEstimator
from neurofb.focus.base import BoundEstimator, Estimator, FocusBatch
from neurofb.types import MAX_SFREQ, Chunk, Features, SourceInfo, Update

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)


def _samples(seconds: float, sfreq: float) -> int:
    return max(1, math.floor(seconds * sfreq + 0.5))


def _subset(features: Features, keep: np.ndarray) -> Features:
    return Features(
        ch_names=features.ch_names,
        bands=features.bands,
        abs_power=features.abs_power[keep],
        rel_power=features.rel_power[keep],
        theta_beta=features.theta_beta[keep],
        engagement=features.engagement[keep],
        psd=None if features.psd is None else features.psd[keep],
        freqs=features.freqs,
    )


def _pick(batch: FocusBatch, ok: np.ndarray) -> FocusBatch:
    """The rows of ``batch`` where ``ok``."""
    explanation = None if batch.explanation is None else batch.explanation[ok]
    mode = None if batch.mode is None else tuple(
        m for m, keep in zip(batch.mode, ok, strict=True) if keep)
    return FocusBatch(np.asarray(batch.focus)[ok], explanation, mode)


class Pipeline:
    """Turn a stream of chunks into focus updates.

    Parameters
    ----------
    info : SourceInfo
        What the source delivers (channels, sampling rate). ``info.live = False`` marks a
        replay: ``latency_s`` is then the processing time per window instead of the age of the
        newest sample, and by default a worker thread shares the work (see ``worker``).
        ``info.simulated`` marks a test-signal source: with the default ``config.min_quality``
        nothing but non-finite samples is gated on it (its quality is still scored and
        reported).
    estimator : Estimator, optional
        Focus estimator; default the band-power engagement target with ``config.baseline_s``.
    config : EngineConfig
        Window, hop, filter, smoothing and gating settings.
    max_batch_windows : int
        Most windows processed in one batch: bounds memory for huge chunks, and 16 windows keep
        a batch in the CPU cache (faster per window than larger batches).
    worker : bool, optional
        Use a worker thread: it filters the next block of a chunk and scores the quality of
        the current batch while this thread computes band powers and focus. Default: in replay
        (``info.live = False``) with two usable CPUs or more. The updates are the same either
        way (the same functions on the same samples, in the same order per block).

    Raises
    ------
    neurofb.errors.ChannelError, neurofb.errors.ModelError
        When the estimator does not fit the stream's channels or sampling rate.
    """

    def __init__(
        self,
        info: SourceInfo,
        estimator: Estimator | None = None,
        config: EngineConfig = EngineConfig(),
        *,
        max_batch_windows: int = 16,
        worker: bool | None = None,
    ) -> None:
        if max_batch_windows < 1:
            raise ValueError(f"max_batch_windows must be >= 1, got {max_batch_windows}")
        if not info.ch_names:
            raise ChannelError(f"source {info.board!r} has no EEG channels to process")
        repeated = sorted({c for c in info.ch_names if info.ch_names.count(c) > 1})
        if repeated:
            raise ChannelError(f"{info.board or 'the source'} names more than one channel "
                               f"{', '.join(repeated)}: each channel needs its own name (a "
                               "damaged header or a wrong --montage)")
        self.info = info
        self.config = config
        self.sfreq = float(info.sfreq)
        self.ch_names = tuple(info.ch_names)
        self.window_samples = _samples(config.window_s, self.sfreq)
        self.hop_samples = _samples(config.hop_s, self.sfreq)
        self.live = info.live
        # BrainFlow's synthetic board streams sines of rising amplitude, not EEG, so every window
        # would fail the quality gate. Its quality is still reported, but unless the caller set
        # another gate it gates only non-finite samples, so the whole chain can be tried without
        # a headset.
        self.simulated = info.simulated
        self.min_quality = config.gate_for(self.simulated)
        n_ch = len(self.ch_names)
        #: What the pipeline adapted to this source (one line each, for the user).
        self.notes: list[str] = []
        if self.sfreq > MAX_SFREQ:
            raise ChannelError(f"{info.board or 'the source'} claims {self.sfreq:g} Hz, above "
                               f"the {MAX_SFREQ:g} Hz neurofb accepts: its header is damaged")
        if not config.h_freq < self.sfreq / 2:
            if config.h_freq != EngineConfig.h_freq:
                raise ChannelError(
                    f"{info.board or 'the source'} samples at {self.sfreq:g} Hz: the "
                    f"{config.h_freq:g} Hz low-pass must be below Nyquist "
                    f"({self.sfreq / 2:g} Hz); lower it (--h-freq)"
                )
            h_freq = math.floor(0.45 * self.sfreq * 2) / 2  # to 0.5 Hz, below Nyquist
            if not config.l_freq < h_freq:
                raise ChannelError(
                    f"{info.board or 'the source'} samples at {self.sfreq:g} Hz: too slow for "
                    f"a {config.l_freq:g} Hz high-pass (Nyquist is {self.sfreq / 2:g} Hz)"
                )
            self.notes.append(
                f"{info.board or 'the source'} samples at {self.sfreq:g} Hz: low-pass at "
                f"{h_freq:g} Hz instead of {config.h_freq:g} Hz (it must be below Nyquist, "
                f"{self.sfreq / 2:g} Hz; set it with --h-freq)"
            )
            config = replace(config, h_freq=h_freq)
            self.config = config
        #: Mains frequency notched (Hz, or None); decided on the first window when "auto".
        self.line_freq: float | None = None
        #: How the mains frequency was chosen ("" until it is).
        self.mains_note = ""
        self._filter: StreamFilter | None = None
        self._held: list[Chunk] = []  # chunks held back until the mains frequency is known
        self._detect_n = max(self.window_samples, _samples(2.0, self.sfreq))
        if config.line_freq != "auto":
            self._set_mains(config.resolve_line_freq(None), "set")
        self.estimator = estimator or BandPowerEstimator(
            "engagement", baseline_s=config.baseline_s
        )
        hop_s = self.hop_samples / self.sfreq
        need_s = getattr(self.estimator, "window_s", None)  # the attention model's window
        if need_s and self.window_samples < round(need_s * self.sfreq):
            from neurofb.errors import SettingsError

            raise SettingsError(f"the focus model reads {need_s:g} s windows; a "
                             f"{config.window_s:g} s window is too short for it: use --window "
                             f"{need_s:g} or longer (or a band-power --target)")
        self._bound: BoundEstimator = self.estimator.bind(self.ch_names, self.sfreq, hop_s=hop_s)
        # An estimator written before channels could be left out takes no ``usable``: a window
        # with a channel below the quality minimum is then gated instead of scored with it.
        self._takes_usable = "usable" in inspect.signature(self._bound.predict).parameters
        self._alpha = 1.0 if config.smoothing_s == 0 else 1.0 - math.exp(
            -hop_s / config.smoothing_s
        )
        # In replay, filter the next block and judge quality on a second core while this thread
        # computes band powers and focus (never live: there one window at a time is scored at
        # once, and the thread hand-off would only add latency).
        self._alongside = (not self.live and usable_cpus() > 1) if worker is None else worker
        self._worker: ThreadPoolExecutor | None = None
        self._block = self.hop_samples * max_batch_windows
        capacity = self.window_samples - 1 + self._block
        self._raw = np.zeros((n_ch, capacity))
        self._filt = np.zeros((n_ch, capacity))
        self.reset()

    @property
    def baseline_min_windows(self) -> int | None:
        """Clean windows the estimator's session baseline needs (None: it takes none)."""
        baseline = getattr(self._bound, "baseline", None)
        return getattr(baseline, "min_windows", None)

    @property
    def estimator_name(self) -> str:
        """Name of the focus estimator (``"engagement"``, ``"model"``, …)."""
        return str(self.estimator.name)

    @property
    def filter_settings(self) -> tuple[bool, float, float, float | None]:
        """``(known, l_freq, h_freq, line_freq)``: the filters' settings, and whether the mains
        frequency is settled yet (with ``"auto"``, after the first window)."""
        return (self._filter is not None, self.config.l_freq, self.config.h_freq, self.line_freq)

    @property
    def n_samples(self) -> int:
        """Samples processed since the start (or the last reset)."""
        return self._n

    def close(self) -> None:
        """End the replay's worker thread (filtering, quality), if one was started.

        Safe to call twice; a closed pipeline can still process chunks (serially).
        """
        worker, self._worker = self._worker, None
        self._alongside = False
        if worker is not None:
            worker.shutdown(wait=True)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _set_mains(self, line_freq: float | None, how: str) -> None:
        """Design the filter for ``line_freq`` (how: "set", "detected" or "fallback")."""
        self.line_freq = line_freq
        hz = "no notch" if line_freq is None else f"{line_freq:g} Hz"
        self.mains_note = {
            "set": f"mains {hz} (setting)",
            "detected": f"mains {hz} (detected from the signal)",
            "fallback": f"mains {hz} (auto: no mains peak in the signal, so the default)",
        }[how]
        self._filter = StreamFilter(
            design_filter(self.sfreq, l_freq=self.config.l_freq, h_freq=self.config.h_freq,
                          line_freq=line_freq),
            len(self.ch_names),
        )  # fmt: skip

    def _detect_mains(self, chunk: Chunk) -> Chunk | None:
        """Hold chunks until the first window is in, detect the mains, return them as one."""
        self._held.append(chunk)
        held = sum(c.n_samples for c in self._held)
        if held < self._detect_n:
            return None
        chunks, self._held = self._held, []
        data = np.concatenate([np.asarray(c.data, dtype=float) for c in chunks], axis=1)
        found = detect_line_freq(data[:, : self._detect_n], self.sfreq)
        self._set_mains(self.config.resolve_line_freq(found),
                        "detected" if found is not None else "fallback")  # fmt: skip
        log.info("%s: %s", self.info.board or "stream", self.mains_note)
        first = chunks[0]
        return Chunk(data=data, timestamps=np.concatenate([c.timestamps for c in chunks]),
                     ch_names=first.ch_names, sfreq=first.sfreq, first_sample=first.first_sample,
                     board=first.board, unit=first.unit)  # fmt: skip

    def request_baseline(self, baseline_s: float | None) -> float:
        """Baseline mode from now: the next ``baseline_s`` seconds are rest (None: cold).

        Safe to call from any thread: the request takes effect before the next window is
        scored, with the rest starting at the last sample processed so far. Only an estimator
        with a baseline mode (the attention model) takes it.

        Returns
        -------
        start_s : float
            Stream time the rest starts at: every window ending after it is scored under this
            request; one ending at or before it may still come from the mode before (updates
            already made, not yet delivered).

        Raises
        ------
        neurofb.errors.ModelError
            The estimator has no baseline mode.
        """
        if not hasattr(self._bound, "request_baseline"):
            from neurofb.errors import ModelError

            raise ModelError(f"the {self.estimator_name} target has no baseline mode")
        start_s = self._n / self.sfreq
        self._baseline_request = (baseline_s, start_s)
        return start_s

    def reset(self) -> None:
        """Start afresh: filter state, buffers, smoothing and the estimator's baseline.

        A mains frequency already detected is kept.
        """
        if self._filter is not None:
            self._filter.reset()
        self._held = []
        self._bound.reset()
        self._baseline_request: tuple[float | None, float] | None = None
        self._n = 0
        self._len = 0
        self._smooth: float | None = None
        self._last = np.zeros(len(self.ch_names))

    def _check(self, chunk: Chunk) -> None:
        if tuple(chunk.ch_names) != self.ch_names:
            missing = [c for c in self.ch_names if c not in chunk.ch_names]
            extra = [c for c in chunk.ch_names if c not in self.ch_names]
            detail = (
                f"missing {missing}, unexpected {extra}" if missing or extra else "in another order"
            )
            raise ChannelError(
                f"chunk channels do not match the stream ({detail}); expected "
                f"{', '.join(self.ch_names)} — restart the pipeline for a new montage"
            )
        if not math.isclose(chunk.sfreq, self.sfreq, rel_tol=1e-9):
            raise ChannelError(
                f"chunk sampling rate {chunk.sfreq:g} Hz does not match the stream's "
                f"{self.sfreq:g} Hz — restart the pipeline for a new source"
            )

    def _hold_nonfinite(self, x: np.ndarray) -> np.ndarray:
        """Replace non-finite samples by the channel's last finite value (for filtering)."""
        finite = np.isfinite(x)
        if finite.all():
            self._last = x[:, -1].copy()
            return x
        idx = np.where(finite, np.arange(x.shape[1]), -1)
        np.maximum.accumulate(idx, axis=1, out=idx)
        held = np.take_along_axis(x, np.maximum(idx, 0), axis=1)
        held = np.where(idx >= 0, held, self._last[:, None])
        self._last = held[:, -1].copy()
        return held

    def _append(self, raw: np.ndarray, filt: np.ndarray) -> None:
        n_new = raw.shape[1]
        if self._len + n_new > self._raw.shape[1]:
            keep = min(self._len, self.window_samples - 1)
            src = slice(self._len - keep, self._len)
            self._raw[:, :keep] = self._raw[:, src]
            self._filt[:, :keep] = self._filt[:, src]
            self._len = keep
        self._raw[:, self._len : self._len + n_new] = raw
        self._filt[:, self._len : self._len + n_new] = filt
        self._len += n_new

    def _window_ends(self, n_before: int, n_after: int) -> list[int]:
        """Sample counts ``W + k·H`` in ``(n_before, n_after]``: the windows ending there."""
        w, h = self.window_samples, self.hop_samples
        if n_after < w:
            return []
        k_first = max(0, -((w - n_before - 1) // h))  # ceil((n_before + 1 - w) / h)
        k_last = (n_after - w) // h
        return list(range(w + h * k_first, w + h * k_last + 1, h))

    def process(self, chunk: Chunk) -> list[Update]:
        """Feed the next chunk; return the updates of every window that ended in it.

        Parameters
        ----------
        chunk : Chunk
            Consecutive samples (µV) of this stream's channels, at its sampling rate. May hold
            NaN/inf: those windows are gated with reason ``"NaN"``.

        Returns
        -------
        list of Update
            Oldest first; empty when no window ended in this chunk.

        Raises
        ------
        neurofb.errors.ChannelError
            When the chunk's channels or sampling rate differ from the stream's.
        """
        self._check(chunk)
        # Overflow from absurd samples (1e308 µV) is judged by the quality check (railed,
        # non-finite: gated), not printed as numpy warnings.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._process(chunk)

    def _process(self, chunk: Chunk) -> list[Update]:
        if self._filter is None:
            held = self._detect_mains(chunk)
            if held is None:
                return []
            chunk = held
        updates: list[Update] = []
        n_chunk_start = self._n
        data = np.asarray(chunk.data, dtype=float)
        starts = range(0, data.shape[1], self._block)
        pending: Future | None = None  # the next block, filtered on the worker thread
        try:
            for start in starts:
                t0 = time.perf_counter()
                raw = data[:, start : start + self._block]
                if pending is None:
                    filt = self._filtered(raw)
                else:
                    filt, pending = pending.result(), None
                following = start + self._block
                if self._alongside and following < data.shape[1]:
                    pending = self._work().submit(
                        self._filtered, data[:, following : following + self._block])
                self._append(raw, filt)
                n_before, self._n = self._n, self._n + raw.shape[1]
                ends = self._window_ends(n_before, self._n)
                if ends:
                    updates.extend(self._emit(ends, chunk, n_chunk_start, t0))
        finally:
            if pending is not None and not pending.cancel():  # an error: let the next
                wait([pending])  # block's filtering finish before anything else touches it
        return updates

    def _filtered(self, raw: np.ndarray) -> np.ndarray:
        """The next samples through the stateful filter (non-finite ones held)."""
        with np.errstate(over="ignore", invalid="ignore"):  # also on the worker thread
            return self._filter.process(self._hold_nonfinite(raw))  # type: ignore[union-attr]

    def _work(self) -> ThreadPoolExecutor:
        """The replay's worker thread (started on first use; :meth:`close` ends it)."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="neurofb-replay")
        return self._worker

    def _gather(self, buf: np.ndarray, ends: list[int]) -> np.ndarray:
        """Windows ending at ``ends`` (global sample counts) as (n_windows, n_channels, W)."""
        w = self.window_samples
        offset = self._n - self._len + w  # buffer index of a window's start = end - offset
        out = np.empty((len(ends), buf.shape[0], w))
        for j, end in enumerate(ends):  # one copy per window
            out[j] = buf[:, end - offset : end - offset + w]
        return out

    def _judge(self, ends: list[int], filt: np.ndarray) -> tuple[QualityReport, np.ndarray]:
        """The quality of the windows ending at ``ends``, and which of their channels hold
        non-finite samples (n_windows, n_channels)."""
        raw = self._gather(self._raw, ends)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # worker thread
            quality = assess(raw, filt, self.sfreq, ch_names=self.ch_names)
            nonfinite = ~np.isfinite(np.add.reduce(raw, axis=2))  # NaN/inf anywhere
        return quality, nonfinite

    def _emit(
        self, ends: list[int], chunk: Chunk, n_chunk_start: int, t0: float
    ) -> list[Update]:
        """Score the windows ending at ``ends`` and turn them into updates."""
        filt = self._gather(self._filt, ends)
        # In replay, the worker judges quality (gathering the raw windows itself: the buffers
        # do not change until this batch is done) while this thread scores the windows.
        judging = self._work().submit(self._judge, ends, filt) if (
            self._alongside and len(ends) > 1) else None
        try:
            features = band_powers(filt, self.sfreq, ch_names=self.ch_names)
            request, self._baseline_request = self._baseline_request, None
            if request is not None:  # asked from another thread: applied between batches
                self._bound.request_baseline(  # type: ignore[attr-defined]
                    request[0], start_s=request[1])
            t_end = np.asarray(ends, dtype=np.float64) / self.sfreq
            early = None
            if judging is not None and getattr(self._bound, "stateless", False):
                early = self._predict_all(filt, features, t_end)
        finally:
            if judging is not None:  # on an error too: the worker reads the buffers
                wait([judging])
        quality, nonfinite = judging.result() if judging is not None else self._judge(ends, filt)
        ok = (quality.window_score >= self.min_quality) & ~nonfinite.any(axis=1)
        # A channel below the minimum quality (flat, railed, …) is left out of the estimate.
        usable = quality.channel_score >= self.min_quality
        if not self._takes_usable:
            ok &= np.logical_and.reduce(usable, axis=-1)
        focus, attention, mode = self._estimate(filt, features, ok, early, t_end, usable)
        if self.live:
            done = time.time()
            stamps = chunk.timestamps
            latency = [done - float(stamps[n - 1 - n_chunk_start]) for n in ends]
        else:
            latency = [(time.perf_counter() - t0) / len(ends)] * len(ends)
        return self._updates(ends, focus, attention, mode, ok, features, quality, latency,
                             nonfinite)

    def _predict_all(self, filt: np.ndarray, features: Features, t_end: np.ndarray
                     ) -> FocusBatch | None:
        """A stateless estimator's focus of every window, before gating (None: let the serial
        path decide, e.g. a window it cannot score)."""
        try:
            return self._bound.predict(filt, features, t_end=t_end)
        except ValueError:
            return None

    def _estimate(
        self, filt: np.ndarray, features: Features, ok: np.ndarray, early: FocusBatch | None,
        t_end: np.ndarray, usable: np.ndarray,
    ) -> tuple[list[float | None], list[tuple[float, ...] | None], list[str]]:
        """Focus, attention and mode of each window; None and "" for gated windows.

        ``early`` is a stateless estimator's batch over every window, scored before gating
        with every channel: the gated-in windows are kept from it (each window's numbers do
        not depend on the batch, so this is the serial path's result) unless one of them has
        a channel left out (``usable``), when the serial path scores them.
        """
        n_win = len(ok)
        focus: list[float | None] = [None] * n_win
        attention: list[tuple[float, ...] | None] = [None] * n_win
        mode = [""] * n_win
        kept = np.flatnonzero(ok).tolist()
        if not kept:
            return focus, attention, mode
        every = len(kept) == n_win
        whole = bool(usable[ok].all())
        if early is not None and not whole:
            early = None
        batch = early if early is None or every else _pick(early, ok)
        if batch is None:
            left_out = {} if whole else {"usable": usable[ok]}
            batch = self._bound.predict(
                filt if every else filt[ok], features if every else _subset(features, ok),
                t_end=t_end if every else t_end[ok], **left_out,
            )
        explanation = None if batch.explanation is None else batch.explanation.tolist()
        values = np.asarray(batch.focus).tolist()
        for j, (i, value) in enumerate(zip(kept, values, strict=True)):
            if math.isfinite(value):
                focus[i] = value
                if explanation is not None:
                    attention[i] = tuple(explanation[j])
                if batch.mode is not None:
                    mode[i] = batch.mode[j]
        return focus, attention, mode

    def _updates(
        self,
        ends: list[int],
        focus: list[float | None],
        attention: list[tuple[float, ...] | None],
        mode: list[str],
        ok: np.ndarray,
        features: Features,
        quality: QualityReport,
        latency: list[float],
        nonfinite: np.ndarray,
    ) -> list[Update]:
        """Smooth, give each gated window its reason, and build the updates (oldest first).

        A channel with non-finite samples in a window has NaN band powers there: its numbers
        would come from the held values the filter was fed, not from the data.
        """
        scores = quality.window_score.tolist()
        channel_scores = quality.channel_score.tolist()
        rel = features.rel_power
        if nonfinite.any():
            rel = rel.copy()
            rel[nonfinite] = np.nan
        rel_power = rel.tolist()
        updates = []
        for i, n in enumerate(ends):
            raw_focus = focus[i]
            reason = str(quality.window_reason[i])
            value: float | None = None
            if raw_focus is not None:
                self._smooth = (
                    raw_focus
                    if self._smooth is None
                    else self._smooth + self._alpha * (raw_focus - self._smooth)
                )
                value = self._smooth
            elif ok[i]:
                reason = (f"too few usable channels for the estimate ({reason})" if reason
                          else "the estimator gave no value for this window")
            elif not reason:
                reason = f"signal quality {scores[i]:.2f} is below the minimum"
            updates.append(
                Update(
                    t=n / self.sfreq,
                    focus=value,
                    raw_focus=raw_focus,
                    quality=scores[i],
                    reason=reason,
                    channel_quality=tuple(channel_scores[i]),
                    channel_reasons=tuple(quality.channel_reason[i].tolist()),
                    attention=attention[i],
                    rel_power=tuple(map(tuple, rel_power[i])),
                    latency_s=latency[i],
                    sample_index=n,
                    mode=mode[i],
                )
            )
        return updates
