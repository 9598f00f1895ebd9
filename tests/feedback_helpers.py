"""Updates and focus sequences for the reward logic, exercise and session tests."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from neurofb.types import Update


def update(t: float, focus: float | None, *, quality: float = 1.0, reason: str = "") -> Update:
    """A pipeline update at ``t`` seconds with ``focus`` (None: gated)."""
    gated = focus is None or (isinstance(focus, float) and math.isnan(focus))
    return Update(
        t=float(t),
        focus=focus,
        raw_focus=focus,
        quality=quality,
        reason=reason or ("artifact" if gated else ""),
        channel_quality=(quality,),
        channel_reasons=(reason,),
        attention=None,
        rel_power=(),
        latency_s=0.0,
        sample_index=round(t * 250),
    )


def updates(focus: Iterable[float | None], *, hop: float = 0.25, t0: float = 0.0) -> list[Update]:
    """Updates every ``hop`` seconds from ``t0`` with the given focus values."""
    return [update(t0 + i * hop, f) for i, f in enumerate(focus)]


def ar1(n: int, *, mean: float, sd: float, phi: float, seed: int) -> np.ndarray:
    """An AR(1) focus sequence (stationary sd ``sd``, lag-1 correlation ``phi``) in [0, 1]."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, sd * np.sqrt(1.0 - phi**2), n)
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return np.clip(mean + x, 0.0, 1.0)
