"""Spectral tapers (Hann, Hamming), computed as SciPy computes them, without importing SciPy.

``scipy.signal`` costs most of a second to import, and the engine needs from it only two
windows and the filter kernel (:mod:`neurofb.dsp.filters`). :func:`taper` repeats SciPy's own
arithmetic (``general_cosine`` on ``n + 1`` points, truncated: the periodic, "DFT-even" form of
:func:`scipy.signal.get_window`), so the values are bit for bit the same; a test checks it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["TAPERS", "taper"]

#: The ``alpha`` of each taper (SciPy's ``general_hamming``: coefficients alpha, 1 - alpha).
TAPERS: dict[str, float] = {"hann": 0.5, "hamming": 0.54}


@lru_cache(maxsize=64)
def _taper(name: str, n: int) -> np.ndarray:
    if n <= 1:
        w = np.ones(n)
    else:
        fac = np.linspace(-np.pi, np.pi, n + 1)
        w = np.zeros(n + 1)
        alpha = TAPERS[name]
        for k, a in enumerate((alpha, 1.0 - alpha)):
            w += a * np.cos(k * fac)
        w = w[:-1]
    w.flags.writeable = False
    return w


def taper(name: str, n: int) -> np.ndarray:
    """The periodic taper ``name`` of ``n`` samples (``scipy.signal.get_window(name, n)``).

    Parameters
    ----------
    name : {"hann", "hamming"}
        The taper.
    n : int
        Its length in samples.

    Returns
    -------
    array, shape (n,)
        Read-only (cached).

    Raises
    ------
    ValueError
        For another taper name or a negative length.
    """
    if name not in TAPERS:
        raise ValueError(f"taper must be one of {sorted(TAPERS)}, got {name!r}")
    if int(n) != n or n < 0:
        raise ValueError(f"taper length must be a non-negative integer, got {n!r}")
    return _taper(name, int(n))
