"""The three operating modes as evaluation protocols over labelled sessions.

A session is one person's windows on one clock (eegmat: the rest recording, then the task
recording after it; a calibration recording: its blocks). ``FeatureSet.t`` is each window's
start in seconds of its session.

- **cold**: nothing is known of the person; every window is scored.
- **baseline**: the first ``baseline_s`` seconds of the session are rest. The rest windows
  lying entirely inside them are the baseline (:func:`baseline_masks`); every window starting
  at or after ``baseline_s`` is scored (eegmat: the *late rest* after the baseline, and the
  task); windows straddling the limit are neither. Features are re-centred on each session's
  baseline (:func:`baseline_features`), as :class:`neurofb.focus.baseline.SessionBaseline`
  does live.
- **calibrated**: the first ``rest_s`` seconds of the person's rest and ``task_s`` seconds of
  task (each counted from that class's first window) calibrate; the windows after them are
  scored (:func:`calibration_masks`).
"""

from __future__ import annotations

import numpy as np

from neurofb.focus.baseline import BASELINE_S, MIN_WINDOWS, recentre_sessions
from neurofb.training.windows import FeatureSet

__all__ = ["CAL_REST_S", "CAL_TASK_S", "MODES", "baseline_features", "baseline_masks",
           "calibration_masks"]

#: The operating modes, in the order reports list them.
MODES = ("cold", "baseline", "calibrated")
#: Calibration protocol: seconds of rest and of task given to calibration, per person.
CAL_REST_S = 30.0
CAL_TASK_S = 20.0
_EPS = 1e-9


def baseline_masks(fs: FeatureSet, baseline_s: float = BASELINE_S
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Baseline windows and scored windows of baseline mode.

    Returns
    -------
    in_baseline : bool array, shape (n_windows,)
        Rest windows lying entirely inside the session's first ``baseline_s`` seconds.
    scored : bool array, shape (n_windows,)
        Windows starting at or after ``baseline_s``.
    """
    in_baseline = (fs.y == 0) & (fs.t + fs.window_s <= baseline_s + _EPS)
    return in_baseline, fs.t >= baseline_s - _EPS


def baseline_features(fs: FeatureSet, baseline_s: float = BASELINE_S, *,
                      min_windows: int = MIN_WINDOWS) -> tuple[FeatureSet, np.ndarray]:
    """Every session re-centred on its own baseline, and which windows are scored.

    Sessions with fewer than ``min_windows`` baseline windows (a recording that does not start
    with rest) cannot be re-centred and are left out.

    Returns
    -------
    FeatureSet
        The windows of the sessions that have a baseline, features re-centred.
    scored : bool array
        Over those windows (:func:`baseline_masks`).
    """
    in_baseline, scored = baseline_masks(fs, baseline_s)
    counts = {s: int((in_baseline & (fs.subject == s)).sum()) for s in fs.subjects}
    keep = np.isin(fs.subject, [s for s, n in counts.items() if n >= min_windows])
    if not keep.any():
        raise ValueError(f"no session starts with {baseline_s:g} s of rest "
                         f"({min_windows} windows): baseline mode cannot be trained on it")
    kept = fs.take(keep)
    X = recentre_sessions(kept.X, kept.subject, in_baseline[keep])
    if kept.mask is not None:
        X = np.where(kept.mask[..., None], X, 0.0)
    return kept.with_features(X), scored[keep]


def calibration_masks(fs: FeatureSet, *, rest_s: float = CAL_REST_S, task_s: float = CAL_TASK_S
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Calibration and scored windows of calibrated mode, per person.

    Windows lying entirely in the first ``rest_s`` seconds of a person's rest (counted from
    their first rest window) or ``task_s`` seconds of task calibrate; windows starting at or
    after those limits are scored; windows straddling a limit are dropped (they would share
    samples with both).
    """
    cal = np.zeros(len(fs), bool)
    scored = np.zeros(len(fs), bool)
    for s in fs.subjects:
        for label, limit in ((0, rest_s), (1, task_s)):
            sel = (fs.subject == s) & (fs.y == label)
            if not sel.any():
                continue
            rel = fs.t - fs.t[sel].min()
            cal |= sel & (rel + fs.window_s <= limit + _EPS)
            scored |= sel & (rel >= limit - _EPS)
    return cal, scored
