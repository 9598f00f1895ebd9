"""Signal quality per channel and per window, with the reason.

Each check gives a channel a *badness* in [0, 1]; the channel's score is ``1 − max(badness)``
and its reason the name of the worst check (on a tie, the first in this order):

``"NaN"``
    Non-finite samples in the raw window.
``"railed"``
    The amplifier is at its rail or clipping: samples beyond ±``rail_uv`` (an ADC rail), a
    plateau of identical extreme values, or an excursion of more than ``excursion_uv`` from the
    channel's mean within the window.
``"flat"``
    Standard deviation below ``flat_uv`` (electrode off, shorted), at least ``stuck_fraction``
    of the samples at one extreme value, or ``dropout_s`` seconds of one value in a row anywhere
    in the window (the signal dropped out and a value is held: no amplifier's EEG repeats a
    sample exactly for a quarter of a second).
``"line noise"``
    Mains hum *left in the filtered window*: power within ±1 Hz of 50 Hz or of 60 Hz (whichever
    is larger), relative to the window's 1–45 Hz power, graded on a log scale. The raw window is
    not judged: unshielded amplifiers (OpenBCI's Cyton among them) pick up mains many times the
    EEG's power, and the notch removes it before anything is computed from the signal; what the
    notch misses (no notch, or a notch at the other mains frequency) is what is flagged.
``"EMG"``
    Relative power above 30 Hz (up to 95 Hz or Nyquist) in the raw window, graded (muscle
    activity). The bands within ±2 Hz of 50 Hz, 60 Hz and their harmonics are left out whatever
    the mains setting, so mains hum is never taken for muscle.
``"high amplitude"``
    Peak-to-peak of the *filtered* window above ``amplitude_uv`` (blink, movement), graded. Last,
    so that when mains or muscle also saturate their check, the cause is named.

The spectral checks use Hann-tapered periodograms of each window (mean removed).

The window score is the mean of the channel scores (the fraction of usable signal); the window
reason names the channels of each reason, worst first: ``"flat: Fz, Cz; EMG: T7"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from neurofb.dsp import tapers
from neurofb.dsp.mains import CANDIDATES

REASONS: tuple[str, ...] = ("NaN", "railed", "flat", "line noise", "EMG", "high amplitude")
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
    dropout_s: float = 0.25
    amplitude_uv: tuple[float, float] = (150.0, 300.0)
    line_ratio: tuple[float, float] = (1.0, 5.0)
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


_REASON_NAMES = np.array(("", *REASONS), dtype=object)


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 at ``lo``, 1 at ``hi``, linear between (NaN stays NaN)."""
    return np.minimum(np.maximum((x - lo) * (1.0 / (hi - lo)), 0.0), 1.0)


@dataclass(frozen=True)
class _SpectralPlan:
    taper: np.ndarray  # Hann taper over the whole window
    n_bins: int  # rfft bins kept (up to the top of the broad band)
    keep: np.ndarray  # 1.0 on bins outside the mains bands, 0.0 inside
    edges: np.ndarray  # last bin below 1 Hz, 30 Hz, 45 Hz and the top (cumulative-sum indices)
    lines: tuple[slice, ...]  # bins within ±1 Hz of each mains frequency below Nyquist
    n_line_bins: int  # rfft bins needed for the line-noise check of the filtered windows
    has_emg: bool  # the broad band reaches above 30 Hz


@lru_cache(maxsize=32)
def _spectral_plan(n_times: int, sfreq: float) -> _SpectralPlan:
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    mains = np.zeros(freqs.shape, dtype=bool)
    for f0 in CANDIDATES:
        for harmonic in np.arange(f0, freqs[-1] + 1, f0):
            mains |= np.abs(freqs - harmonic) <= 2.0
    top = min(95.0, sfreq / 2.0)
    n_bins = int(np.searchsorted(freqs, top, "left"))
    edges = np.minimum(np.searchsorted(freqs, [1.0, 30.0, 45.0, top], "left"), n_bins) - 1
    lines = []
    for f0 in CANDIDATES:
        idx = np.flatnonzero(np.abs(freqs - f0) <= 1.0)
        if f0 < sfreq / 2 and idx.size:
            lines.append(slice(int(idx[0]), int(idx[-1]) + 1))
    n_line_bins = max([int(edges[2]) + 1] + [sl.stop for sl in lines])
    return _SpectralPlan(
        taper=tapers.taper("hann", n_times),
        n_bins=n_bins,
        keep=(~mains[:n_bins]).astype(float),
        edges=edges,
        lines=tuple(lines),
        n_line_bins=n_line_bins,
        has_emg=top > 30.0,
    )


def _spectral_badness(
    dev: np.ndarray, filtered: np.ndarray, sfreq: float, th: QualityThresholds
) -> tuple[np.ndarray, np.ndarray]:
    """Line-noise badness (filtered windows) and EMG badness (raw, mean-removed windows)."""
    plan = _spectral_plan(dev.shape[-1], float(sfreq))
    spec = np.fft.rfft(dev * plan.taper, axis=-1)[..., : plan.n_bins]
    power = spec.real**2
    power += spec.imag**2
    # Band sums from one cumulative sum over the bins outside the mains bands.
    power *= plan.keep
    cum = np.add.accumulate(power, axis=-1)
    at = cum[..., plan.edges]  # cumulative power below 1, 30, 45 Hz and the top
    emg_bad = np.zeros(at.shape[:-1])
    if plan.has_emg:
        broad = np.maximum(at[..., 3] - at[..., 0], 1e-12)
        emg_bad = _ramp((at[..., 3] - at[..., 1]) / broad, *th.emg_ratio)
    line_bad = np.zeros(emg_bad.shape)
    if plan.lines:
        centred = filtered - np.add.reduce(filtered, axis=-1, keepdims=True) / filtered.shape[-1]
        fspec = np.fft.rfft(centred * plan.taper, axis=-1)[..., : plan.n_line_bins]
        fpow = fspec.real**2 + fspec.imag**2
        e = plan.edges
        eeg = np.maximum(np.add.reduce(fpow[..., e[0] + 1 : e[2] + 1], axis=-1), 1e-12)
        line = np.maximum.reduce([np.add.reduce(fpow[..., sl], axis=-1) for sl in plan.lines])
        line_bad = _ramp(np.log10(np.maximum(line / eeg, 1e-12)), *np.log10(th.line_ratio))
    return line_bad, emg_bad


def _held(raw: np.ndarray, need: int) -> np.ndarray:
    """Whether each row holds one value for ``need`` samples in a row (a dropout)."""
    same = raw[..., 1:] == raw[..., :-1]
    held = np.add.reduce(same, axis=-1) >= need - 1  # enough repeats for such a run at all
    if not held.any():  # EEG: the usual case, and the cheap one
        return held
    idx = np.arange(same.shape[-1])
    last_change = np.maximum.accumulate(np.where(same, -1, idx), axis=-1)
    return np.maximum.reduce(idx - last_change, axis=-1, initial=0) + 1 >= need


def _amplitude_checks(
    raw: np.ndarray, th: QualityThresholds, sfreq: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Railed (ADC rail, excursion, clipping plateau) and flat (tiny std, stuck, a held value)
    channels.

    Also returns the mean-removed windows for the spectral checks.
    """
    n = raw.shape[-1]
    hi = np.maximum.reduce(raw, axis=-1)
    lo = np.minimum.reduce(raw, axis=-1)
    level = np.add.reduce(raw, axis=-1) / n
    dev = raw - level[..., None]
    std = np.sqrt(np.add.reduce(dev * dev, axis=-1) / n)
    at_extreme = np.maximum(
        np.add.reduce(raw == hi[..., None], axis=-1),
        np.add.reduce(raw == lo[..., None], axis=-1),
    )
    stuck = at_extreme >= th.stuck_fraction * n
    need = max(3, int(np.ceil(th.plateau_fraction * n)))
    clipped = (hi > lo) & (at_extreme >= need) & ~stuck
    railed = (
        (np.maximum(hi, -lo) >= th.rail_uv)
        | (np.maximum(hi - level, level - lo) > th.excursion_uv)
        | clipped
    )
    held = _held(raw, max(2, int(np.ceil(th.dropout_s * sfreq))))
    flat = (std < th.flat_uv) | stuck | (held & ~railed)
    return railed, flat, dev


def assess(
    windows: np.ndarray,
    filtered: np.ndarray,
    sfreq: float,
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
    nan_bad = (~np.isfinite(np.add.reduce(windows, axis=-1))).astype(float)
    raw = windows
    if np.add.reduce(nan_bad, axis=None):
        raw = np.where(np.isfinite(windows), windows, 0.0)
    railed, flat, dev = _amplitude_checks(raw, th, float(sfreq))
    peak_to_peak = np.maximum.reduce(filtered, axis=-1) - np.minimum.reduce(filtered, axis=-1)
    amplitude_bad = _ramp(peak_to_peak, *th.amplitude_uv)
    if np.isnan(np.add.reduce(amplitude_bad, axis=None)):
        amplitude_bad = np.nan_to_num(amplitude_bad, nan=1.0)
    line_bad, emg_bad = _spectral_badness(dev, filtered, sfreq, th)

    # (n_win, n_ch, n_reasons), in the order of REASONS: argmax picks the first on ties
    badness = np.empty((*nan_bad.shape, len(REASONS)))
    for i, value in enumerate((nan_bad, railed, flat, line_bad, emg_bad, amplitude_bad)):
        badness[..., i] = value
    worst = badness.argmax(axis=-1)
    worst_value = np.maximum.reduce(badness, axis=-1)
    channel_score = 1.0 - worst_value
    # index 0 of _REASON_NAMES is "" (nothing to report)
    reported = worst_value >= REPORT_BADNESS
    channel_reason = _REASON_NAMES[np.where(reported, worst + 1, 0)]
    window_score = np.add.reduce(channel_score, axis=-1) / n_ch
    window_reason = _window_reasons(channel_reason, reported, worst_value, names)
    return QualityReport(channel_score, channel_reason, window_score, window_reason)


def _window_reasons(
    channel_reason: np.ndarray, reported: np.ndarray, badness: np.ndarray, names: list[str]
) -> np.ndarray:
    """``"reason: ch, ch; reason: ch"`` per window, reasons in order of total badness."""
    out = np.full(channel_reason.shape[0], "", dtype=object)
    for w in np.flatnonzero(np.logical_or.reduce(reported, axis=-1)).tolist():
        groups: dict[str, list[int]] = {}
        for c in np.flatnonzero(reported[w]).tolist():
            groups.setdefault(channel_reason[w, c], []).append(c)
        order = sorted(groups, key=lambda r: -float(badness[w, groups[r]].sum()))
        out[w] = "; ".join(f"{r}: {_channels(groups[r], names)}" for r in order)
    return out


def _channels(which: list[int], names: list[str]) -> str:
    """The channels of one reason: named, or "all N channels" when every one of four or more
    has it (a dropout on every channel read as a list of 19 names)."""
    if len(which) == len(names) >= 4:
        return f"all {len(names)} channels"
    return ", ".join(names[c] for c in which)
