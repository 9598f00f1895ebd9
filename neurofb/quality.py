"""Signal quality per channel and per window, with the reason.

Each check gives a channel a *badness* in [0, 1]; the channel's score is ``1 − max(badness)``
and its reason the name of the worst check. Checks, in order of precedence:

``"NaN"``
    Non-finite samples in the raw window.
``"railed"``
    The amplifier is at its rail or clipping: samples beyond ±``rail_uv`` (an ADC rail), a
    plateau of identical extreme values, or an excursion of more than ``excursion_uv`` from the
    channel's mean within the window.
``"flat"``
    Standard deviation below ``flat_uv`` (electrode off, shorted), or at least ``stuck_fraction``
    of the samples at one value (the signal dropped out and holds a value).
``"high amplitude"``
    Peak-to-peak of the *filtered* window above ``amplitude_uv`` (blink, movement), graded.
``"line noise"``
    Power within ±1 Hz of the mains frequency in the *raw* window, relative to the 1–45 Hz EEG
    power, graded on a log scale (a loose electrode picks up mains).
``"EMG"``
    Relative power above 30 Hz (up to 95 Hz or Nyquist, mains bands excluded) in the raw window,
    graded (muscle activity).

The window score is the mean of the channel scores (the fraction of usable signal); the window
reason names the channels of each reason, worst first: ``"flat: Fz, Cz; EMG: T7"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from neurofb.features import default_segment, welch_psd

REASONS: tuple[str, ...] = ("NaN", "railed", "flat", "high amplitude", "line noise", "EMG")
#: A channel's reason is reported once its worst check reaches this badness.
REPORT_BADNESS = 0.1


@dataclass(frozen=True)
class QualityThresholds:
    """Thresholds of the quality checks (µV, ratios).

    Graded checks are 0 (fine) at the first value and 1 (unusable) at the second.
    """

    flat_uv: float = 0.5
    rail_uv: float = 100_000.0
    excursion_uv: float = 3000.0
    plateau_fraction: float = 0.02
    stuck_fraction: float = 0.5
    amplitude_uv: tuple[float, float] = (150.0, 300.0)
    line_ratio: tuple[float, float] = (2.0, 20.0)
    emg_ratio: tuple[float, float] = (0.35, 0.7)


class QualityReport(NamedTuple):
    """Quality of a batch of windows.

    Attributes
    ----------
    channel_score : array, shape (n_windows, n_channels)
        Score in [0, 1] of each channel (1 = clean).
    channel_reason : array of str, shape (n_windows, n_channels)
        Worst problem of each channel, ``""`` when clean.
    window_score : array, shape (n_windows,)
        Mean channel score of each window.
    window_reason : array of str, shape (n_windows,)
        Problems of each window with the channels they affect, ``""`` when clean.
    """

    channel_score: np.ndarray
    channel_reason: np.ndarray
    window_score: np.ndarray
    window_reason: np.ndarray


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


@dataclass(frozen=True)
class _SpectralPlan:
    n_per_seg: int
    n_overlap: int
    eeg: np.ndarray  # PSD bin indices of 1-45 Hz EEG (mains bands excluded)
    line: np.ndarray  # bins within ±1 Hz of the mains frequency
    broad: np.ndarray  # 1 Hz .. min(95 Hz, Nyquist), mains bands excluded
    high: np.ndarray  # the part of ``broad`` at or above 30 Hz


@lru_cache(maxsize=32)
def _spectral_plan(n_times: int, sfreq: float, line_freq: float | None) -> _SpectralPlan:
    n_per_seg, n_overlap = default_segment(n_times, sfreq)
    freqs = np.fft.rfftfreq(n_per_seg, 1.0 / sfreq)
    mains = np.zeros(freqs.shape, dtype=bool)
    if line_freq:
        for harmonic in np.arange(line_freq, freqs[-1] + 1, line_freq):
            mains |= np.abs(freqs - harmonic) <= 2.0
    line = np.zeros(freqs.shape, dtype=bool)
    if line_freq and line_freq < sfreq / 2:
        line = np.abs(freqs - line_freq) <= 1.0
    top = min(95.0, sfreq / 2.0)
    broad = (freqs >= 1.0) & (freqs < top) & ~mains
    return _SpectralPlan(
        n_per_seg,
        n_overlap,
        eeg=np.flatnonzero((freqs >= 1.0) & (freqs < 45.0) & ~mains),
        line=np.flatnonzero(line),
        broad=np.flatnonzero(broad),
        high=np.flatnonzero(broad & (freqs >= 30.0)) if top > 30.0 else np.empty(0, int),
    )


def _spectral_badness(
    raw: np.ndarray, sfreq: float, line_freq: float | None, th: QualityThresholds
) -> tuple[np.ndarray, np.ndarray]:
    """Line-noise and EMG badness from the raw windows' spectrum."""
    plan = _spectral_plan(raw.shape[-1], float(sfreq), line_freq)
    psd, _ = welch_psd(raw, sfreq, n_per_seg=plan.n_per_seg, n_overlap=plan.n_overlap)
    eeg = np.maximum(psd[..., plan.eeg].sum(axis=-1), 1e-12)
    line_bad = np.zeros(eeg.shape)
    if plan.line.size:
        ratio = np.maximum(psd[..., plan.line].sum(axis=-1) / eeg, 1e-12)
        line_bad = _ramp(np.log10(ratio), *np.log10(th.line_ratio))
    emg_bad = np.zeros(eeg.shape)
    if plan.high.size:
        broad = np.maximum(psd[..., plan.broad].sum(axis=-1), 1e-12)
        emg_bad = _ramp(psd[..., plan.high].sum(axis=-1) / broad, *th.emg_ratio)
    return line_bad, emg_bad


def _amplitude_checks(
    raw: np.ndarray, th: QualityThresholds
) -> tuple[np.ndarray, np.ndarray]:
    """Railed (ADC rail, excursion, clipping plateau) and flat (tiny std, stuck) channels."""
    n = raw.shape[-1]
    hi = raw.max(axis=-1)
    lo = raw.min(axis=-1)
    level = raw.mean(axis=-1)
    dev = raw - level[..., None]
    std = np.sqrt((dev * dev).mean(axis=-1))
    at_extreme = np.maximum(
        np.count_nonzero(raw == hi[..., None], axis=-1),
        np.count_nonzero(raw == lo[..., None], axis=-1),
    )
    stuck = at_extreme >= th.stuck_fraction * n
    need = max(3, int(np.ceil(th.plateau_fraction * n)))
    clipped = (hi > lo) & (at_extreme >= need) & ~stuck
    railed = (
        (np.maximum(hi, -lo) >= th.rail_uv)
        | (np.maximum(hi - level, level - lo) > th.excursion_uv)
        | clipped
    )
    flat = (std < th.flat_uv) | stuck
    return railed, flat


def assess(
    windows: np.ndarray,
    filtered: np.ndarray,
    sfreq: float,
    line_freq: float | None = 50.0,
    *,
    ch_names: Sequence[str] | None = None,
    thresholds: QualityThresholds | None = None,
) -> QualityReport:
    """Score the signal quality of a batch of windows.

    Parameters
    ----------
    windows : array, shape (n_windows, n_channels, n_times)
        Raw (unfiltered) EEG in µV; may hold NaN/inf.
    filtered : array, shape (n_windows, n_channels, n_times)
        The same windows after the engine's band-pass and notch, µV, finite.
    sfreq : float
        Sampling rate in Hz.
    line_freq : float or None
        Mains frequency in Hz (50 or 60); ``None`` skips the line-noise check.
    ch_names : sequence of str, optional
        Channel names used in the window reasons (default ``"0"``, ``"1"``, …).
    thresholds : QualityThresholds, optional
        Check thresholds.

    Returns
    -------
    QualityReport
        ``(channel_score, channel_reason, window_score, window_reason)``.
    """
    th = thresholds or QualityThresholds()
    windows = np.asarray(windows, dtype=float)
    filtered = np.asarray(filtered, dtype=float)
    if windows.ndim != 3 or windows.shape != filtered.shape:
        raise ValueError(
            "windows and filtered must both have shape (n_windows, n_channels, n_times), got "
            f"{windows.shape} and {filtered.shape}"
        )
    n_ch = windows.shape[1]
    names = list(ch_names) if ch_names is not None else [str(i) for i in range(n_ch)]
    if len(names) != n_ch:
        raise ValueError(f"{len(names)} channel names for {n_ch} channels")

    # One pass decides whether any sample is non-finite (a sum is NaN/inf if one is).
    nan_bad = (~np.isfinite(windows.sum(axis=-1))).astype(float)
    raw = np.where(np.isfinite(windows), windows, 0.0) if nan_bad.any() else windows
    railed, flat = _amplitude_checks(raw, th)
    peak_to_peak = filtered.max(axis=-1) - filtered.min(axis=-1)
    amplitude_bad = np.nan_to_num(_ramp(peak_to_peak, *th.amplitude_uv), nan=1.0)
    line_bad, emg_bad = _spectral_badness(raw, sfreq, line_freq, th)

    badness = np.stack(
        [nan_bad, railed.astype(float), flat.astype(float), amplitude_bad, line_bad, emg_bad],
        axis=-1,
    )  # (n_win, n_ch, n_reasons), in the order of REASONS: argmax picks the first on ties
    worst = badness.argmax(axis=-1)
    worst_value = np.take_along_axis(badness, worst[..., None], axis=-1)[..., 0]
    channel_score = np.ascontiguousarray(1.0 - worst_value)
    reasons = np.array(REASONS, dtype=object)
    channel_reason = np.where(worst_value >= REPORT_BADNESS, reasons[worst], "").astype(object)
    window_score = channel_score.mean(axis=-1)
    window_reason = _window_reasons(channel_reason, worst_value, names)
    return QualityReport(channel_score, channel_reason, window_score, window_reason)


def _window_reasons(
    channel_reason: np.ndarray, badness: np.ndarray, names: list[str]
) -> np.ndarray:
    """``"reason: ch, ch; reason: ch"`` per window, reasons in order of total badness."""
    out = np.full(channel_reason.shape[0], "", dtype=object)
    for w in np.flatnonzero((channel_reason != "").any(axis=-1)):
        groups: dict[str, list[int]] = {}
        for c in np.flatnonzero(channel_reason[w] != ""):
            groups.setdefault(channel_reason[w, c], []).append(int(c))
        order = sorted(groups, key=lambda r: -float(badness[w, groups[r]].sum()))
        out[w] = "; ".join(f"{r}: {', '.join(names[c] for c in groups[r])}" for r in order)
    return out
