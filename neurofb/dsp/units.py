"""EEG amplitude units: the factor to microvolts, and a guess when a source names none.

The engine works in µV. Streams and files that say their unit (an LSL stream's channel
description, an XDF file's header) are scaled by :func:`factor_to_uv`. Some say nothing (the
OpenBCI GUI's LSL stream carries no unit); then :func:`guess_unit` tells volts from microvolts
by the size of the signal — EEG is tens of µV, so a standard deviation below 0.01 can only be
volts — and the caller reports the guess, so a µV/V mix-up is never silent.
"""

from __future__ import annotations

import numpy as np

__all__ = ["UNITS", "factor_to_uv", "guess_unit", "unit_key"]

#: Accepted spellings of each unit (lowercase) and the factor that turns it into µV.
UNITS: dict[str, float] = {
    "uv": 1.0, "µv": 1.0, "μv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
    "mv": 1e3, "millivolt": 1e3, "millivolts": 1e3,
    "v": 1e6, "volt": 1e6, "volts": 1e6,
    "nv": 1e-3, "nanovolt": 1e-3, "nanovolts": 1e-3,
}  # fmt: skip
#: Standard deviation below which a signal of unknown unit is taken for volts.
VOLTS_BELOW = 0.01


def unit_key(unit: str) -> str | None:
    """The canonical spelling (``"uV"``, ``"mV"``, ``"V"``, ``"nV"``) of a unit, or None."""
    factor = UNITS.get(unit.strip().lower().replace(" ", ""))
    return {1.0: "uV", 1e3: "mV", 1e6: "V", 1e-3: "nV"}.get(factor) if factor else None


def factor_to_uv(unit: str) -> float:
    """The factor that turns samples in ``unit`` into µV.

    Raises
    ------
    ValueError
        For a unit that is not a voltage neurofb knows (``"uV"``, ``"mV"``, ``"V"``, ``"nV"``
        and their spelled-out names).
    """
    key = unit.strip().lower().replace(" ", "")
    if key not in UNITS:
        raise ValueError(f"unknown amplitude unit {unit!r}: expected uV, mV, V or nV")
    return UNITS[key]


def guess_unit(data: np.ndarray) -> str:
    """``"V"`` when the signal is too small to be µV (median channel SD < 0.01), else ``"uV"``.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        A second or more of the signal, unit unknown; non-finite samples are ignored.
    """
    x = np.asarray(data, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"data must have shape (n_channels, n_times >= 2), got {x.shape}")
    std = np.nanstd(np.where(np.isfinite(x), x, np.nan), axis=1)
    std = std[np.isfinite(std) & (std > 0)]
    if std.size == 0:
        return "uV"
    return "V" if float(np.median(std)) < VOLTS_BELOW else "uV"
