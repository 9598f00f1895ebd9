"""The baselines the focus model is compared with, on the same windows.

- :class:`BandPowerLR`: the log10 absolute power of the five classic bands (delta 1–4, theta
  4–8, alpha 8–13, beta 13–30, gamma 30–45 Hz) of every channel — the first five of the focus
  model's own features, from the engine's Welch spectrum — standardised and fed to a
  class-balanced logistic regression. In baseline mode it is trained and scored on the
  re-centred band powers; in calibrated mode it is fitted per person on the calibration windows.
- :class:`DeviationLR`: a control for baseline mode that can only tell "different from the
  baseline": the same regression on the *absolute values* of the re-centred band powers (no
  sign, so no direction of change), its ``C`` chosen by group cross-validation over the training
  subjects.
- :func:`concentration_scores`: **BrainFlow concentration** — BrainFlow's own route,
  ``DataFilter.get_avg_band_powers`` and ``MLModel(MINDFULNESS).predict`` per window, focus =
  p(MINDFULNESS). (BrainFlow 5 renamed CONCENTRATION to MINDFULNESS and RELAXATION to
  RESTFULNESS with the same enum values; the OpenBCI GUI shows MINDFULNESS as
  "concentration". It is *not* 1 − p.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from neurofb.focus.features import N_BANDS

#: Inverse regularisation strengths the deviation control chooses from.
C_GRID: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)


def band_power_matrix(X: np.ndarray) -> np.ndarray:
    """The LR's inputs: log10 band powers of every channel, (n_windows, n_channels · 5)."""
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[2] < N_BANDS:
        raise ValueError(f"features must be (n_windows, n_channels, >= {N_BANDS}), got "
                         f"{X.shape}")
    return X[..., :N_BANDS].reshape(len(X), -1)


def _pipeline(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(),
                         LogisticRegression(C=c, class_weight="balanced", max_iter=3000))


class BandPowerLR:
    """Log band powers + logistic regression (class-balanced), scikit-learn.

    Parameters
    ----------
    C : float
        Inverse regularisation strength.
    """

    name = "bandpower+LR"

    def __init__(self, *, C: float = 1.0) -> None:
        self.pipeline = _pipeline(C)

    def fit(self, X: np.ndarray, y: np.ndarray) -> BandPowerLR:
        """Fit on features (n_windows, n_channels, n_features) and labels."""
        if len(np.unique(y)) < 2:
            raise ValueError("the band-power baseline needs windows of both classes")
        self.pipeline.fit(band_power_matrix(X), np.asarray(y))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Probability of the task class for each window, shape (n_windows,)."""
        return self.pipeline.predict_proba(band_power_matrix(X))[:, 1]


class DeviationLR:
    """Baseline-mode control: logistic regression on ``|re-centred band power|`` (sign-free).

    Parameters
    ----------
    grid : sequence of float
        The ``C`` values chosen among by 5-fold group cross-validation (pooled AUC).
    """

    name = "deviation control"

    def __init__(self, grid: Sequence[float] = C_GRID) -> None:
        self.grid = tuple(grid)
        self.C: float | None = None
        self.pipeline = None

    def fit(self, Z: np.ndarray, y: np.ndarray, groups: np.ndarray) -> DeviationLR:
        """Fit on re-centred features, labels and each window's subject (for the folds)."""
        from sklearn.model_selection import GridSearchCV, GroupKFold

        x = np.abs(band_power_matrix(Z))
        n_groups = len(np.unique(groups))
        if n_groups >= 2:
            search = GridSearchCV(_pipeline(1.0), {"logisticregression__C": list(self.grid)},
                                  cv=GroupKFold(min(5, n_groups)), scoring="roc_auc")
            search.fit(x, y, groups=groups)
            self.C = float(search.best_params_["logisticregression__C"])
            self.pipeline = search.best_estimator_
        else:
            self.C = self.grid[0]
            self.pipeline = _pipeline(self.C).fit(x, y)
        return self

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Probability of the task class for re-centred windows."""
        if self.pipeline is None:
            raise ValueError("fit the deviation control first")
        return self.pipeline.predict_proba(np.abs(band_power_matrix(Z)))[:, 1]


def concentration_scores(windows: np.ndarray, sfreq: float) -> np.ndarray:
    """BrainFlow concentration: average band powers → ``MLModel(MINDFULNESS)``, p(MINDFULNESS).

    Parameters
    ----------
    windows : array, shape (n_windows, n_channels, n_times)
        EEG in µV.
    sfreq : float
        Sampling rate in Hz (BrainFlow needs an integer rate; it is rounded).

    Returns
    -------
    array, shape (n_windows,)
        BrainFlow's MINDFULNESS probability (what the OpenBCI GUI shows as concentration).
    """
    from brainflow.data_filter import DataFilter
    from brainflow.ml_model import (
        BrainFlowClassifiers,
        BrainFlowMetrics,
        BrainFlowModelParams,
        MLModel,
    )

    X = np.asarray(windows, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"windows must be (n_windows, n_channels, n_times), got {X.shape}")
    params = BrainFlowModelParams(BrainFlowMetrics.MINDFULNESS.value,
                                  BrainFlowClassifiers.DEFAULT_CLASSIFIER.value)
    model = MLModel(params)
    model.prepare()
    try:
        channels = list(range(X.shape[1]))
        out = np.empty(len(X))
        for i, w in enumerate(X):
            avg, std = DataFilter.get_avg_band_powers(np.ascontiguousarray(w), channels,
                                                      round(sfreq), True)
            out[i] = float(np.asarray(model.predict(np.concatenate([avg, std])))[0])
    finally:
        model.release()
    return out
