"""Band powers: agreement with MNE and scipy, sines of known frequency, white noise, ratios."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from mne.time_frequency import psd_array_welch

from neurofb.dsp.features import BANDS, band_powers, integrate_bands, welch_psd

SFREQ = 250.0
RNG = np.random.default_rng(42)


def _sine(freq: float, amp: float, n: int = 500, sfreq: float = SFREQ) -> np.ndarray:
    t = np.arange(n) / sfreq
    return amp * np.sin(2 * np.pi * freq * t + 0.3)


@pytest.mark.parametrize(
    ("n_per_seg", "n_overlap", "window"),
    [(250, 125, "hamming"), (500, 0, "hamming"), (251, 100, "hann"), (128, 64, "hamming")],
)
def test_welch_matches_mne_psd_array_welch(n_per_seg, n_overlap, window):
    x = RNG.standard_normal((3, 5, 500)) * 10 + 40
    ours, f1 = welch_psd(x, SFREQ, n_per_seg=n_per_seg, n_overlap=n_overlap, window=window,
                         fmin=0.5, fmax=60)
    mne_psd, f2 = psd_array_welch(x, SFREQ, fmin=0.5, fmax=60, n_fft=n_per_seg,
                                  n_per_seg=n_per_seg, n_overlap=n_overlap, window=window,
                                  verbose="error")
    np.testing.assert_allclose(f1, f2)
    np.testing.assert_allclose(ours, mne_psd, rtol=1e-10)


def test_welch_matches_scipy_welch():
    x = RNG.standard_normal((4, 1000)) * 5
    ours, f1 = welch_psd(x, 500.0, n_per_seg=500, n_overlap=250)
    f2, ref = scipy.signal.welch(x, 500.0, window="hamming", nperseg=500, noverlap=250,
                                 detrend="constant", scaling="density")
    np.testing.assert_allclose(f1, f2)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_band_integration_matches_scipy_reference():
    x = RNG.standard_normal((2, 6, 500)) * 8
    feats = band_powers(x, SFREQ)
    freqs, psd = scipy.signal.welch(x, SFREQ, window="hamming", nperseg=250, noverlap=125)
    df = freqs[1] - freqs[0]
    for i, (lo, hi) in enumerate(BANDS.values()):
        ref = psd[..., (freqs >= lo) & (freqs < hi)].sum(-1) * df
        np.testing.assert_allclose(feats.abs_power[..., i], ref, rtol=1e-9)
    total = psd[..., (freqs >= 1) & (freqs < 45)].sum(-1) * df
    np.testing.assert_allclose(feats.rel_power, feats.abs_power / total[..., None], rtol=1e-9)


@pytest.mark.parametrize(
    ("freq", "band"), [(2.0, "delta"), (6.0, "theta"), (10.0, "alpha"), (20.0, "beta"),
                       (37.0, "gamma"), (13.5, "smr")],
)
def test_sine_power_lands_in_its_band(freq, band):
    amp = 12.0
    x = np.stack([_sine(freq, amp), _sine(freq, amp / 2)])[None]
    feats = band_powers(x, SFREQ, ch_names=["Fz", "Cz"])
    i = feats.bands.index(band)
    # All of a sine's power (A²/2, µV²) falls in the band holding it.
    np.testing.assert_allclose(feats.abs_power[0, :, i], [amp**2 / 2, amp**2 / 8], rtol=0.05)
    assert (feats.rel_power[0, :, i] > 0.95).all()
    others = [j for j, b in enumerate(feats.bands) if b not in (band, "smr", "alpha", "beta")]
    assert (feats.rel_power[0][:, others] < 0.05).all()


def test_white_noise_relative_power_proportional_to_bandwidth():
    x = RNG.standard_normal((300, 4, 500))
    rel = band_powers(x, SFREQ).rel_power.mean(axis=(0, 1))
    widths = np.array([hi - lo for lo, hi in BANDS.values()])
    np.testing.assert_allclose(rel, widths / 44.0, rtol=0.08)
    assert rel[[0, 1, 2, 4, 5]].sum() == pytest.approx(1.0, abs=1e-9)


def test_ratios_from_known_powers():
    theta_amp, beta_amp, alpha_amp = 20.0, 5.0, 10.0
    x = (_sine(6.0, theta_amp) + _sine(20.0, beta_amp) + _sine(10.0, alpha_amp))
    feats = band_powers(np.tile(x, (1, 3, 1)), SFREQ)
    assert feats.theta_beta[0] == pytest.approx(theta_amp**2 / beta_amp**2, rel=0.05)
    expected = beta_amp**2 / (alpha_amp**2 + theta_amp**2)
    assert feats.engagement[0] == pytest.approx(expected, rel=0.05)


def test_batch_gives_the_same_numbers_as_single_windows():
    x = RNG.standard_normal((37, 19, 1000)) * 10
    batch = band_powers(x, 500.0)
    for i in (0, 5, 36):
        one = band_powers(x[i : i + 1], 500.0)
        np.testing.assert_array_equal(batch.abs_power[i], one.abs_power[0])
        np.testing.assert_array_equal(batch.rel_power[i], one.rel_power[0])
        assert batch.engagement[i] == one.engagement[0]
        assert batch.theta_beta[i] == one.theta_beta[0]


def test_flat_channel_gives_finite_zero_powers():
    x = np.zeros((1, 2, 500))
    x[0, 1] = _sine(10.0, 5.0)
    feats = band_powers(x, SFREQ)
    assert np.isfinite(feats.rel_power).all() and np.isfinite(feats.engagement).all()
    assert (feats.abs_power[0, 0] == 0).all()


def test_integrate_bands_rectangle_rule():
    freqs = np.arange(0.0, 46.0)
    psd = np.ones((2, freqs.size))
    out = integrate_bands(psd, freqs, {"a": (0.0, 4.0), "b": (4.0, 8.0), "all": (1.0, 45.0)})
    np.testing.assert_allclose(out, [[4.0, 4.0, 44.0]] * 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_windows, n_channels, n_times"):
        band_powers(np.zeros((2, 500)), SFREQ)
    with pytest.raises(ValueError, match="channel names"):
        band_powers(np.zeros((1, 2, 500)), SFREQ, ch_names=["Fz"])
    with pytest.raises(ValueError, match="theta, alpha and beta"):
        band_powers(np.zeros((1, 2, 500)), SFREQ, bands={"delta": (1.0, 4.0)})
    with pytest.raises(ValueError, match="n_per_seg"):
        welch_psd(np.zeros((2, 100)), SFREQ, n_per_seg=200)
    with pytest.raises(ValueError, match="n_overlap"):
        welch_psd(np.zeros((2, 100)), SFREQ, n_per_seg=50, n_overlap=50)
