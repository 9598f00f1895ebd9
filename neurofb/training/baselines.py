"""The baselines the focus model is compared with, on the same windows.

- :class:`BandPowerLR`: log absolute band powers (delta 1–4, theta 4–8, alpha 8–13, beta 13–30,
  gamma 30–45 Hz) of every channel, from :func:`mne.time_frequency.psd_array_welch`, standardised
  and fed to a class-balanced logistic regression trained on the training subjects.
- :func:`mindfulness_scores`: BrainFlow's own route — ``DataFilter.get_avg_band_powers`` and
  ``MLModel(MINDFULNESS).predict`` per window; focus = 1 − mindfulness.
"""

from __future__ import annotations

import numpy as np

from neurofb.dsp.features import CLASSIC_BANDS

#: Frequency bands in Hz: the engine's five classic bands (no SMR).
BANDS = CLASSIC_BANDS


def log_band_powers(X: np.ndarray, sfreq: float) -> np.ndarray:
    """Log10 absolute band power of each channel of each window.

    Parameters
    ----------
    X : array, shape (n_windows, n_channels, n_times)
        EEG in µV.
    sfreq : float
        Sampling rate in Hz.

    Returns
    -------
    array, shape (n_windows, n_channels * n_bands)
        log10 µV² per band (Welch, 1 s Hann segments, half overlap), channel-major.
    """
    from mne.time_frequency import psd_array_welch

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"X must be (n_windows, n_channels, n_times), got {X.shape}")
    n_fft = min(X.shape[-1], round(sfreq))
    psd, freqs = psd_array_welch(X, sfreq, fmin=1.0, fmax=45.0, n_fft=n_fft,
                                 n_overlap=n_fft // 2, verbose="error")
    df = freqs[1] - freqs[0]
    bands = []
    for lo, hi in BANDS.values():
        sel = (freqs >= lo) & (freqs < hi) if hi < 45 else (freqs >= lo) & (freqs <= hi)
        bands.append(psd[..., sel].sum(-1) * df)
    return np.log10(np.stack(bands, axis=-1) + 1e-12).reshape(len(X), -1)


class BandPowerLR:
    """Log band powers + logistic regression (class-balanced), scikit-learn.

    Parameters
    ----------
    C : float
        Inverse regularisation strength.
    """

    name = "bandpower+LR"

    def __init__(self, *, C: float = 1.0) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.pipeline = make_pipeline(
            StandardScaler(), LogisticRegression(C=C, class_weight="balanced", max_iter=2000))

    def fit(self, X: np.ndarray, y: np.ndarray, sfreq: float) -> BandPowerLR:
        """Fit on windows (n_windows, n_channels, n_times) µV and labels."""
        if len(np.unique(y)) < 2:
            raise ValueError("the band-power baseline needs windows of both classes")
        self.pipeline.fit(log_band_powers(X, sfreq), np.asarray(y))
        return self

    def predict(self, X: np.ndarray, sfreq: float) -> np.ndarray:
        """Probability of the task class for each window, shape (n_windows,)."""
        return self.pipeline.predict_proba(log_band_powers(X, sfreq))[:, 1]


def mindfulness_scores(X: np.ndarray, sfreq: float) -> np.ndarray:
    """BrainFlow's route: average band powers → MLModel(MINDFULNESS); focus = 1 − mindfulness.

    Parameters
    ----------
    X : array, shape (n_windows, n_channels, n_times)
        EEG in µV.
    sfreq : float
        Sampling rate in Hz (BrainFlow needs an integer rate; it is rounded).

    Returns
    -------
    array, shape (n_windows,)
        1 − BrainFlow's mindfulness probability.
    """
    from brainflow.data_filter import DataFilter
    from brainflow.ml_model import (
        BrainFlowClassifiers,
        BrainFlowMetrics,
        BrainFlowModelParams,
        MLModel,
    )

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"X must be (n_windows, n_channels, n_times), got {X.shape}")
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
            out[i] = 1.0 - float(np.asarray(model.predict(np.concatenate([avg, std])))[0])
    finally:
        model.release()
    return out
