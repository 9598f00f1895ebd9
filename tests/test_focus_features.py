"""The focus model's features: from the engine's Welch spectrum, equal to MNE's, per window."""

from __future__ import annotations

import numpy as np
import pytest

from neurofb.dsp.features import band_powers
from neurofb.focus.features import N_FEATURES, grid_plan, model_features, window_features


def _windows(n: int, c: int, sfreq: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(2 * sfreq)) / sfreq
    alpha = 15 * np.sin(2 * np.pi * 10 * t)
    return rng.normal(0, 5, (n, c, len(t))) + alpha


@pytest.mark.parametrize("sfreq", [250.0, 500.0, 128.0])
def test_features_are_mne_welch_and_its_band_sums(sfreq):
    from mne.time_frequency import psd_array_welch

    x = _windows(3, 4, sfreq)
    f = window_features(x, sfreq)
    n = round(sfreq)
    psd, freqs = psd_array_welch(x, sfreq, fmin=1.0, fmax=45.0, n_fft=n, n_per_seg=n,
                                 n_overlap=n // 2, window="hamming", verbose="error")
    assert f.shape == (3, 4, N_FEATURES) and freqs[0] == 1 and freqs[-1] == 45
    np.testing.assert_allclose(f[..., 5:], np.log10(psd + 1e-12), rtol=0, atol=1e-10)
    for i, (lo, hi) in enumerate(((1, 4), (4, 8), (8, 13), (13, 30), (30, 46))):
        band = psd[..., (freqs >= lo) & (freqs < hi)].sum(-1)
        np.testing.assert_allclose(f[..., i], np.log10(band + 1e-12), rtol=0, atol=1e-10)
    assert np.all(np.argmax(f[..., 5:], -1) == 9)  # the 10 Hz sine


def test_the_pipeline_spectrum_gives_the_same_features():
    x = _windows(5, 8, 250.0)
    feats = band_powers(x, 250.0)
    np.testing.assert_array_equal(model_features(feats.psd, feats.freqs),
                                  window_features(x, 250.0))


def test_features_of_a_batch_equal_window_by_window():
    x = _windows(40, 19, 500.0, seed=3)
    feats = band_powers(x, 500.0)
    whole = model_features(feats.psd, feats.freqs)
    one = np.concatenate([model_features(feats.psd[i:i + 1], feats.freqs) for i in range(40)])
    assert np.array_equal(whole, one)


def test_a_non_integer_rate_is_interpolated_onto_the_1_hz_grid():
    sfreq = 250.4
    x = _windows(2, 3, sfreq, seed=4)
    feats = band_powers(x, sfreq)
    assert not grid_plan(feats.freqs).exact and grid_plan(np.arange(46.0)).exact
    got = model_features(feats.psd, feats.freqs)
    want = np.log10(np.array([[np.interp(np.arange(1, 46), feats.freqs, p) for p in w]
                              for w in feats.psd]) + 1e-12)
    np.testing.assert_allclose(got[..., 5:], want, rtol=0, atol=1e-12)
    near = window_features(_windows(2, 3, 250.0, seed=4), 250.0)
    assert np.median(np.abs(got - near)) < 0.05  # about the same spectrum


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 90"):
        window_features(np.zeros((1, 3, 128)), 64.0)
    with pytest.raises(ValueError, match="n_windows, n_channels"):
        window_features(np.zeros((3, 500)), 250.0)
    with pytest.raises(ValueError, match="needs up to 45"):
        model_features(np.ones((1, 2, 30)), np.arange(30.0))
    flat = window_features(np.zeros((1, 3, 500)), 250.0)
    assert np.all(np.isfinite(flat)) and np.all(flat == -12.0)  # a flat channel is finite
