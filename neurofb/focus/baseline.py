"""Baseline mode: features re-centred on the session's own first seconds of rest, causally.

The contract (one :class:`SessionBaseline` per session and electrode set):

- The first ``baseline_s`` seconds of a session are rest. Every scored window that lies
  entirely inside them (its end ``t_end <= start_s + baseline_s``, in seconds of the stream)
  feeds running statistics — the mean and standard deviation of every feature of every channel
  (Welford, float64) — and is scored by the **cold** model on its raw features
  (:meth:`SessionBaseline.update` returns None for it, state ``"rest"``).
- The first window that ends later freezes the statistics, provided at least ``min_windows``
  windows fed them. From then on every window is returned re-centred and scaled,
  ``(f - mean) / (std + std_floor)``, for the baseline model (state ``"baseline"``). Nothing
  else of the person is used: the statistics never change after freezing, and only past
  windows ever enter them.
- If fewer than ``min_windows`` windows fed the baseline (a gap, a bad signal gated most of
  it), the session stays cold (state ``"baseline-failed"``) until the next :meth:`restart`.
- Windows the pipeline gates out (bad quality, NaN) are never passed in, so they neither feed
  nor count.

:func:`recentre_sessions` is its batch twin for training and evaluation: the same statistics
(population standard deviation, ddof 0) from the windows that lie in each session's baseline.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BASELINE_S", "MIN_WINDOWS", "STD_FLOOR", "SessionBaseline", "recentre_sessions"]

#: Default baseline length (s): the rest the app asks for at the start of a session.
BASELINE_S = 60.0
#: Fewest windows a usable baseline needs.
MIN_WINDOWS = 20
#: Added to the baseline standard deviation (log10 units) before dividing.
STD_FLOOR = 1e-3
#: Slack for comparing window end times with the baseline's end (s).
_EPS_S = 1e-9

#: The states :attr:`SessionBaseline.state` takes.
STATES = ("off", "rest", "baseline", "baseline-failed")


class SessionBaseline:
    """Causal per-session re-centring of window features.

    Parameters
    ----------
    shape : tuple of int
        Shape of one window's features, ``(n_channels, n_features)``.
    min_windows : int
        Fewest baseline windows needed before re-centring starts.
    std_floor : float
        Added to the standard deviation before dividing.

    Notes
    -----
    A new instance is ``"off"`` (cold): :meth:`restart` starts a baseline.
    """

    def __init__(self, shape: tuple[int, int], *, min_windows: int = MIN_WINDOWS,
                 std_floor: float = STD_FLOOR) -> None:
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"shape must be (n_channels, n_features), got {shape}")
        if min_windows < 2 or not std_floor > 0:
            raise ValueError("need min_windows >= 2 and std_floor > 0")
        self.shape = (int(shape[0]), int(shape[1]))
        self.min_windows = int(min_windows)
        self.std_floor = float(std_floor)
        self.start_s = 0.0
        self.baseline_s = 0.0
        self.state = "off"
        self._clear()

    def _clear(self) -> None:
        self.count = 0
        self._mean = np.zeros(self.shape)
        self._m2 = np.zeros(self.shape)
        self._scale: np.ndarray | None = None

    def restart(self, baseline_s: float | None, *, start_s: float = 0.0) -> None:
        """Take a new baseline from ``start_s`` for ``baseline_s`` seconds (None: cold).

        Parameters
        ----------
        baseline_s : float or None
            Seconds of rest; None or 0 switches baseline mode off (every window cold).
        start_s : float
            When the rest starts, in seconds of the stream (window end times count from the
            same origin).
        """
        self._clear()
        if not baseline_s:
            self.state = "off"
            self.baseline_s = 0.0
            return
        if not (np.isfinite(baseline_s) and baseline_s > 0 and np.isfinite(start_s)):
            raise ValueError(f"baseline_s must be positive, got {baseline_s}")
        self.baseline_s = float(baseline_s)
        self.start_s = float(start_s)
        self.state = "rest"

    @property
    def ready(self) -> bool:
        """Whether windows are returned re-centred (the baseline is frozen and usable)."""
        return self.state == "baseline"

    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """The baseline mean and standard deviation so far, each ``shape``."""
        if self.count < 1:
            raise ValueError("no baseline window yet")
        return self._mean.copy(), np.sqrt(self._m2 / self.count)

    def update(self, feats: np.ndarray, t_end: float, *, t_start: float | None = None,
               learn: bool = True) -> np.ndarray | None:
        """Feed one scored window; return its re-centred features, or None while cold.

        Parameters
        ----------
        feats : array, shape ``shape``
            The window's features (log10 units), finite.
        t_end : float
            End time of the window in seconds of the stream.
        t_start : float, optional
            Its start time: a window that starts before the rest started (it holds samples
            from before) is scored cold without feeding the baseline. Default ``t_end``.
        learn : bool
            False for a window with an electrode left out (flat, railed, …): during the rest
            it is scored cold without feeding the baseline, which learns from windows where
            every electrode is usable.

        Returns
        -------
        array, shape ``shape``, float64, or None
            ``(feats - mean) / (std + std_floor)`` once the baseline is frozen; None when the
            window should be scored cold (baseline mode off, still resting, or failed).
        """
        f = np.asarray(feats, dtype=np.float64)
        if f.shape != self.shape:
            raise ValueError(f"features must have shape {self.shape}, got {f.shape}")
        if self.state == "rest":
            if t_end <= self.start_s + self.baseline_s + _EPS_S:
                first = t_end if t_start is None else t_start
                if first < self.start_s - _EPS_S or not learn:
                    return None  # samples from before the rest, or a bad electrode: not fed
                self.count += 1
                delta = f - self._mean
                self._mean += delta / self.count
                self._m2 += delta * (f - self._mean)
                return None
            self._freeze()
        if self.state != "baseline":
            return None
        mean, scale = self._scale  # type: ignore[misc]
        return (f - mean) / scale

    def _freeze(self) -> None:
        if self.count < self.min_windows:
            self.state = "baseline-failed"
            return
        mean, std = self.statistics()
        self._scale = (mean, std + self.std_floor)  # type: ignore[assignment]
        self.state = "baseline"


def recentre_sessions(feats: np.ndarray, session: np.ndarray, in_baseline: np.ndarray, *,
                      std_floor: float = STD_FLOOR) -> np.ndarray:
    """Batch twin of :class:`SessionBaseline`: every window re-centred on its session's baseline.

    Parameters
    ----------
    feats : array, shape (n_windows, n_channels, n_features)
        Raw features (log10 units).
    session : array, shape (n_windows,)
        Session (person) of each window.
    in_baseline : bool array, shape (n_windows,)
        Windows lying in their session's baseline period.

    Returns
    -------
    array, same shape as ``feats``, float64
        ``(f - mean) / (std + std_floor)`` with the statistics of the session's baseline
        windows (population std, as :class:`SessionBaseline`).

    Raises
    ------
    ValueError
        A session with fewer than 2 baseline windows.
    """
    feats = np.asarray(feats, dtype=np.float64)
    session = np.asarray(session)
    in_baseline = np.asarray(in_baseline, dtype=bool)
    if feats.shape[:1] != session.shape or session.shape != in_baseline.shape:
        raise ValueError("feats, session and in_baseline must have the same first dimension")
    out = np.empty_like(feats)
    for s in np.unique(session):
        m = session == s
        base = feats[m & in_baseline]
        if len(base) < 2:
            raise ValueError(f"session {s} has fewer than 2 baseline windows")
        mean, std = base.mean(0), base.std(0)
        out[m] = (feats[m] - mean) / (std + std_floor)
    return out
