"""Spectra, band powers and ratios of batches of EEG windows.

The spectrum is Welch's method exactly as :func:`mne.time_frequency.psd_array_welch` computes it
(Hamming-windowed segments, per-segment mean removed, one-sided density in µV²/Hz, mean over
segments), vectorised with :func:`numpy.fft.rfft` over a whole batch of windows.
``psd_array_welch`` costs about a millisecond of fixed overhead per call and falls back to a
per-channel loop above 10 MB of input, which is too slow for live updates and fast replay; the
tests check :func:`welch_psd` against ``psd_array_welch`` and :func:`scipy.signal.welch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from neurofb.dsp import tapers
from neurofb.types import Features

#: Frequency bands in Hz, ``[low, high)``. SMR overlaps the top of alpha and the bottom of beta.
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "smr": (12.0, 15.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}
#: The five classic, non-overlapping bands of :data:`BANDS` (no SMR): the log band powers of the
#: band-power + LR baseline and of a personalised model's head.
CLASSIC_BANDS: dict[str, tuple[float, float]] = {k: v for k, v in BANDS.items() if k != "smr"}
#: The band relative powers are taken against, in Hz ``[low, high)``.
TOTAL_BAND: tuple[float, float] = (1.0, 45.0)
#: Guard against division by zero (µV²) for flat channels.
_TINY = 1e-12
#: Largest block of segments (bytes of float64) transformed at once, to bound memory.
_MAX_BLOCK_BYTES = 32 * 1024 * 1024


def default_segment(n_times: int, sfreq: float) -> tuple[int, int]:
    """Welch segment length and overlap used for band powers.

    One-second segments (1 Hz resolution) with 50 % overlap, or the whole window when it is
    shorter than a second.

    Returns
    -------
    n_per_seg, n_overlap : int
    """
    n_per_seg = int(min(n_times, round(sfreq)))
    return n_per_seg, n_per_seg // 2


@dataclass(frozen=True)
class _WelchPlan:
    lo: int
    hi: int
    freqs: np.ndarray
    taper: np.ndarray
    scale: np.ndarray
    step: int


@lru_cache(maxsize=64)
def _welch_plan(
    sfreq: float, n_per_seg: int, n_overlap: int, window: str, fmin: float, fmax: float
) -> _WelchPlan:
    freqs = np.fft.rfftfreq(n_per_seg, 1.0 / sfreq)
    keep = np.flatnonzero((freqs >= fmin) & (freqs <= fmax))
    if keep.size == 0:
        raise ValueError(f"no frequencies between fmin={fmin} and fmax={fmax} Hz")
    lo, hi = int(keep[0]), int(keep[-1]) + 1
    taper = tapers.taper(window, n_per_seg)
    scale = np.full(hi - lo, 1.0 / (sfreq * float(np.sum(taper**2))))
    bins = np.arange(lo, hi)
    last = n_per_seg // 2 if n_per_seg % 2 == 0 else -1  # even length: Nyquist is not doubled
    scale[(bins > 0) & (bins != last)] *= 2.0
    return _WelchPlan(lo, hi, freqs[lo:hi], taper, scale, n_per_seg - n_overlap)


@lru_cache(maxsize=64)
def _segment_index(n_times: int, n_per_seg: int, step: int) -> np.ndarray:
    """Sample indices of each Welch segment, shape (n_segments, n_per_seg)."""
    starts = np.arange(0, n_times - n_per_seg + 1, step)
    return starts[:, None] + np.arange(n_per_seg)


def welch_psd(
    x: np.ndarray,
    sfreq: float,
    *,
    n_per_seg: int,
    n_overlap: int = 0,
    window: str = "hamming",
    fmin: float = 0.0,
    fmax: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density of many signals at once.

    Same result as ``mne.time_frequency.psd_array_welch(x, sfreq, fmin, fmax, n_fft=n_per_seg,
    n_per_seg=n_per_seg, n_overlap=n_overlap, window=window)``.

    Parameters
    ----------
    x : array, shape (..., n_times)
        Finite signals in µV.
    sfreq : float
        Sampling rate in Hz.
    n_per_seg : int
        Segment (and FFT) length in samples, ``<= n_times``.
    n_overlap : int
        Overlap between segments in samples, ``< n_per_seg``.
    window : {"hamming", "hann"}
        Taper (:func:`neurofb.dsp.tapers.taper`).
    fmin, fmax : float
        Frequency range kept, in Hz (inclusive).

    Returns
    -------
    psd : array, shape (..., n_freqs)
        One-sided power spectral density in µV²/Hz.
    freqs : array, shape (n_freqs,)
        Frequencies in Hz.
    """
    x = np.asarray(x, dtype=float)
    n_times = x.shape[-1]
    if not 0 < n_per_seg <= n_times:
        raise ValueError(f"n_per_seg must be in [1, n_times={n_times}], got {n_per_seg}")
    if not 0 <= n_overlap < n_per_seg:
        raise ValueError(f"n_overlap must be in [0, n_per_seg), got {n_overlap}")
    plan = _welch_plan(float(sfreq), int(n_per_seg), int(n_overlap), window, fmin, fmax)
    lead = x.shape[:-1]
    flat = x.reshape(-1, n_times)
    index = _segment_index(n_times, n_per_seg, plan.step)
    rows_per_block = max(1, _MAX_BLOCK_BYTES // (8 * index.size))
    psd = np.empty((flat.shape[0], plan.hi - plan.lo))
    for start in range(0, flat.shape[0], rows_per_block):
        seg = flat[start : start + rows_per_block, index]  # (rows, n_segments, n_per_seg) copy
        seg -= np.add.reduce(seg, axis=-1, keepdims=True) / n_per_seg
        seg *= plan.taper
        spec = np.fft.rfft(seg, axis=-1)[..., plan.lo : plan.hi]
        power = spec.real**2
        power += spec.imag**2
        # mean over segments, scaled to a one-sided density
        np.multiply(np.add.reduce(power, axis=1), plan.scale / index.shape[0],
                    out=psd[start : start + rows_per_block])
    return psd.reshape(*lead, plan.hi - plan.lo), plan.freqs


def band_slices(freqs: np.ndarray, bands: dict[str, tuple[float, float]]) -> list[slice]:
    """Index slices of ``freqs`` (ascending, Hz) within each ``[low, high)`` band."""
    return list(_band_slices(tuple(freqs.tolist()), tuple(bands.values())))


@lru_cache(maxsize=64)
def _band_slices(
    freqs: tuple[float, ...], edges: tuple[tuple[float, float], ...]
) -> tuple[slice, ...]:
    f = np.asarray(freqs)
    return tuple(
        slice(int(np.searchsorted(f, lo, "left")), int(np.searchsorted(f, hi, "left")))
        for lo, hi in edges
    )


def integrate_bands(
    psd: np.ndarray, freqs: np.ndarray, bands: dict[str, tuple[float, float]]
) -> np.ndarray:
    """Integrate a PSD over bands (rectangle rule over the bins in ``[low, high)``).

    Parameters
    ----------
    psd : array, shape (..., n_freqs)
        Power spectral density (µV²/Hz).
    freqs : array, shape (n_freqs,)
        Evenly spaced frequencies in Hz.
    bands : dict of str to (float, float)
        Band edges in Hz.

    Returns
    -------
    power : array, shape (..., n_bands)
        Band power in µV².
    """
    df = float(freqs[1] - freqs[0]) if freqs.size > 1 else 1.0
    slices = band_slices(freqs, bands)
    return _integrate(psd, np.array([sl.start for sl in slices]),
                      np.array([sl.stop for sl in slices]), df)


def _integrate(psd: np.ndarray, lo: np.ndarray, hi: np.ndarray, df: float) -> np.ndarray:
    """Sum ``psd[..., lo[i]:hi[i]] * df`` for every band from one cumulative sum."""
    cum = np.add.accumulate(psd, axis=-1)
    if lo.min() == 0:  # sum(psd[lo:hi]) = cum[hi - 1] - cum[lo - 1], with cum[-1] = 0
        cum = np.concatenate([np.zeros((*psd.shape[:-1], 1)), cum], axis=-1)
        return (cum[..., hi] - cum[..., lo]) * df
    return (cum[..., hi - 1] - cum[..., lo - 1]) * df


@dataclass(frozen=True)
class _BandPlan:
    n_per_seg: int
    n_overlap: int
    fmax: float
    lo: np.ndarray  # PSD bin where each band (and the total, last) starts
    hi: np.ndarray  # PSD bin after each band ends
    df: float
    theta: int
    alpha: int
    beta: int


@lru_cache(maxsize=32)
def _band_plan(
    sfreq: float, n_times: int, bands: tuple[tuple[str, tuple[float, float]], ...]
) -> _BandPlan:
    n_per_seg, n_overlap = default_segment(n_times, sfreq)
    edges = [edge for _, edge in bands] + [TOTAL_BAND]
    fmax = max(hi for _, hi in edges)
    freqs = np.fft.rfftfreq(n_per_seg, 1.0 / sfreq)
    freqs = freqs[freqs <= fmax]
    slices = band_slices(freqs, dict(enumerate(edges)))
    idx = {name: i for i, (name, _) in enumerate(bands)}
    return _BandPlan(
        n_per_seg, n_overlap, fmax,
        lo=np.array([sl.start for sl in slices]),
        hi=np.array([sl.stop for sl in slices]),
        df=sfreq / n_per_seg,
        theta=idx["theta"], alpha=idx["alpha"], beta=idx["beta"],
    )


def band_powers(
    windows: np.ndarray,
    sfreq: float,
    *,
    ch_names: Sequence[str] | None = None,
    bands: dict[str, tuple[float, float]] | None = None,
) -> Features:
    """Absolute and relative band powers, theta/beta ratio and engagement of EEG windows.

    Parameters
    ----------
    windows : array, shape (n_windows, n_channels, n_times)
        Filtered EEG in µV (finite).
    sfreq : float
        Sampling rate in Hz.
    ch_names : sequence of str, optional
        Channel names (default ``"0"``, ``"1"``, …).
    bands : dict, optional
        Bands in Hz (default :data:`BANDS`; must include theta, alpha and beta).

    Returns
    -------
    Features
        ``abs_power`` in µV² (Welch PSD integrated over each band), ``rel_power`` relative to the
        1–45 Hz total, ``theta_beta`` = θ/β and ``engagement`` = β/(α+θ), each computed per
        channel and averaged over channels; ``psd`` and ``freqs``, the Welch spectrum itself
        (0 Hz up to the top band edge), which the attention model reads too.
    """
    windows = np.asarray(windows, dtype=float)
    if windows.ndim != 3:
        raise ValueError(
            f"windows must have shape (n_windows, n_channels, n_times), got {windows.shape}"
        )
    if not sfreq > 0:
        raise ValueError(f"sfreq must be positive, got {sfreq}")
    bands = dict(BANDS if bands is None else bands)
    missing = {"theta", "alpha", "beta"} - set(bands)
    if missing:
        raise ValueError(f"bands must include theta, alpha and beta; missing {sorted(missing)}")
    n_ch = windows.shape[1]
    names = tuple(ch_names) if ch_names is not None else tuple(str(i) for i in range(n_ch))
    if len(names) != n_ch:
        raise ValueError(f"{len(names)} channel names for {n_ch} channels")
    plan = _band_plan(float(sfreq), windows.shape[-1], tuple(bands.items()))
    psd, freqs = welch_psd(
        windows, sfreq, n_per_seg=plan.n_per_seg, n_overlap=plan.n_overlap, fmax=plan.fmax
    )
    powers = _integrate(psd, plan.lo, plan.hi, plan.df)
    abs_power, total = powers[..., :-1], powers[..., -1:]
    rel_power = abs_power / np.maximum(total, _TINY)
    theta, alpha, beta = (abs_power[..., i] for i in (plan.theta, plan.alpha, plan.beta))
    # Reduced over channels only after an arithmetic op: contiguous rows, so each window is
    # summed the same way whatever the batch size.
    theta_beta = np.add.reduce(theta / np.maximum(beta, _TINY), axis=-1) / n_ch
    engagement = np.add.reduce(beta / np.maximum(alpha + theta, _TINY), axis=-1) / n_ch
    return Features(
        ch_names=names,
        bands=tuple(bands),
        abs_power=abs_power,
        rel_power=rel_power,
        theta_beta=theta_beta,
        engagement=engagement,
        psd=psd,
        freqs=freqs,
    )
