"""The focus model's features: per channel, 5 log band powers and the log Welch PSD 1–45 Hz.

The model reads the spectrum the pipeline has already computed for every window
(:attr:`neurofb.types.Features.psd`, from :func:`neurofb.dsp.features.band_powers`: Welch with
1 s Hamming segments, 50 % overlap, each segment's mean removed, one-sided density in µV²/Hz,
at the stream's own rate), so a live update computes its spectrum once and nothing is
resampled. Training computes its features with the very same functions on windows cut at the
recording's own rate (:mod:`neurofb.training.data`), so training and inference match by
construction.

For every channel the features are, in this order (all log10, with :data:`TINY` added):

- the power of the five classic bands (µV²): delta 1–4, theta 4–8, alpha 8–13, beta 13–30 and
  gamma 30–45 Hz — the PSD summed over the 1 Hz grid points in ``[low, high)``, gamma including
  45 Hz — the features of the band power + LR baseline;
- the PSD at 1, 2, …, 45 Hz (µV²/Hz).

**The 1 Hz grid.** At an integer sampling rate (250, 256, 500 Hz …) a 1 s segment has
exactly 1 Hz bins and the grid points are the spectrum's own bins. At a non-integer rate
(e.g. 250.4 Hz) the segment is ``round(sfreq)`` samples and the bins lie ``sfreq /
round(sfreq)`` Hz apart (1.0016 Hz); the PSD is then interpolated linearly onto 1…45 Hz (the
edge value held beyond the last bin, at most one bin's width). A window shorter than 1 s is one
segment of coarser bins, interpolated the same way. The model was trained and evaluated on
integer rates (eegmat, 500 Hz) with 2 s windows only.

Determinism: every operation works along the last axis of one window's own rows (a slice, a
two-tap interpolation, ``np.add.reduce``, ``log10``), never a product across the batch, so a
window's features are bit for bit the same whether it is scored alone or in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from neurofb.dsp.features import CLASSIC_BANDS

__all__ = [
    "BAND_NAMES",
    "FMAX",
    "FMIN",
    "GRID_HZ",
    "N_BANDS",
    "N_FEATURES",
    "TINY",
    "model_features",
    "window_features",
]

#: The PSD grid of the features (Hz): 1, 2, …, 45.
FMIN, FMAX = 1, 45
GRID_HZ = np.arange(FMIN, FMAX + 1, dtype=np.float64)
GRID_HZ.flags.writeable = False
#: The bands (the engine's five classic bands; the last includes its upper edge).
BAND_NAMES: tuple[str, ...] = tuple(CLASSIC_BANDS)
N_BANDS = len(BAND_NAMES)
#: Features per channel: the band powers first (the model's linear branch reads these).
N_FEATURES = N_BANDS + len(GRID_HZ)
#: Added before log10 (µV² or µV²/Hz) so a flat channel gives a finite feature.
TINY = 1e-12
#: Two frequencies closer than this (Hz) are the same grid point.
_SAME_HZ = 1e-6


def _band_ranges() -> tuple[tuple[int, int], ...]:
    """Grid index ranges ``[a, b)`` of each band."""
    out = []
    for i, (lo, hi) in enumerate(CLASSIC_BANDS.values()):
        last = i == N_BANDS - 1
        member = (GRID_HZ >= lo) & ((GRID_HZ <= hi) if last else (GRID_HZ < hi))
        idx = np.flatnonzero(member)
        out.append((int(idx[0]), int(idx[-1]) + 1))
    return tuple(out)


_BANDS = _band_ranges()


@dataclass(frozen=True)
class GridPlan:
    """How to read the 1 Hz grid from a spectrum with given frequencies.

    ``exact`` spectra have the grid points as bins ``bins``; others are interpolated between
    bins ``lo`` and ``hi`` with weights ``w_lo``, ``w_hi``.
    """

    exact: bool
    bins: slice
    lo: np.ndarray
    hi: np.ndarray
    w_lo: np.ndarray
    w_hi: np.ndarray


@lru_cache(maxsize=32)
def _plan(freqs: tuple[float, ...]) -> GridPlan:
    f = np.asarray(freqs, dtype=np.float64)
    if f.ndim != 1 or f.size < 2 or np.any(np.diff(f) <= 0):
        raise ValueError("the spectrum's frequencies must be increasing, with at least 2 bins")
    if f[0] > FMIN + _SAME_HZ:
        raise ValueError(f"the spectrum starts at {f[0]:g} Hz; the model needs {FMIN} Hz")
    first = int(np.searchsorted(f, FMIN - _SAME_HZ))
    stop = first + len(GRID_HZ)
    if stop <= f.size and np.all(np.abs(f[first:stop] - GRID_HZ) <= _SAME_HZ):
        empty = np.zeros(0, dtype=np.int64)
        return GridPlan(True, slice(first, stop), empty, empty, np.zeros(0), np.zeros(0))
    if f[-1] < FMAX - (f[-1] - f[-2]) - _SAME_HZ:
        raise ValueError(f"the spectrum ends at {f[-1]:g} Hz; the model needs up to {FMAX} Hz")
    hi = np.clip(np.searchsorted(f, GRID_HZ, side="left"), 1, f.size - 1)
    lo = hi - 1
    t = np.clip((GRID_HZ - f[lo]) / (f[hi] - f[lo]), 0.0, 1.0)
    for a in (lo, hi, t):
        a.flags.writeable = False
    w_lo = 1.0 - t
    w_lo.flags.writeable = False
    return GridPlan(False, slice(0, 0), lo, hi, w_lo, t)


def grid_plan(freqs: np.ndarray) -> GridPlan:
    """The :class:`GridPlan` of a spectrum's frequencies (Hz), cached.

    Raises
    ------
    ValueError
        Frequencies that do not cover 1–45 Hz.
    """
    return _plan(tuple(np.asarray(freqs, dtype=np.float64).tolist()))


def model_features(psd: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Log band powers and log PSD on the 1 Hz grid, per channel.

    Parameters
    ----------
    psd : array, shape (..., n_freqs)
        One-sided Welch power spectral density in µV²/Hz (:attr:`neurofb.types.Features.psd`).
    freqs : array, shape (n_freqs,)
        Its frequencies in Hz (covering 1–45 Hz).

    Returns
    -------
    array, shape (..., N_FEATURES), float64
        ``[..., :5]`` log10 band power (µV²), ``[..., 5:]`` log10 PSD (µV²/Hz) at 1…45 Hz.
    """
    p = np.asarray(psd, dtype=np.float64)
    plan = grid_plan(freqs)
    if p.shape[-1] != len(np.asarray(freqs)):
        raise ValueError(f"psd has {p.shape[-1]} frequencies, freqs {len(np.asarray(freqs))}")
    if plan.exact:
        grid = p[..., plan.bins]
    else:
        grid = p[..., plan.lo] * plan.w_lo + p[..., plan.hi] * plan.w_hi
    out = np.empty((*p.shape[:-1], N_FEATURES))
    for i, (a, b) in enumerate(_BANDS):  # the grid is 1 Hz apart: a band's power is its sum
        out[..., i] = np.add.reduce(grid[..., a:b], axis=-1)
    out[..., N_BANDS:] = grid
    out += TINY
    np.log10(out, out=out)
    return out


def window_features(windows: np.ndarray, sfreq: float) -> np.ndarray:
    """:func:`model_features` of windows, through the engine's own Welch spectrum.

    Parameters
    ----------
    windows : array, shape (n_windows, n_channels, n_times)
        Filtered EEG in µV at ``sfreq`` Hz (finite).
    sfreq : float
        Sampling rate in Hz (at least 90 Hz).

    Returns
    -------
    array, shape (n_windows, n_channels, N_FEATURES), float64
    """
    from neurofb.dsp.features import band_powers

    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 3:
        raise ValueError(f"windows must be (n_windows, n_channels, n_times), got {w.shape}")
    if not sfreq >= 2 * FMAX:
        raise ValueError(f"the focus model needs a sampling rate of at least {2 * FMAX} Hz, "
                         f"got {sfreq:g}")
    feats = band_powers(w, sfreq)
    return model_features(feats.psd, feats.freqs)
