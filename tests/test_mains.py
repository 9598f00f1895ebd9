"""Mains detection (``neurofb.dsp.mains``): the frequency a recording picked up, from real EEG."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from neurofb.dsp.mains import _median, detect_line_freq, line_peak_ratios


def test_median_is_numpys_median():
    rng = np.random.default_rng(0)
    for n in range(1, 40):
        x = rng.normal(size=n) * rng.exponential()
        assert _median(x) == float(np.median(x)), n


@pytest.mark.parametrize("line", [50.0, 60.0])
def test_hum_added_to_real_eeg_is_found(eegmat_dir, line):
    raw = mne.io.read_raw_edf(eegmat_dir / "Subject01_1.edf", preload=True, verbose="error")
    x = raw.get_data(picks="eeg")[:8, :1000] * 1e6  # 2 s at 500 Hz, µV
    t = np.arange(x.shape[1]) / raw.info["sfreq"]
    hum = x + 200.0 * np.sin(2 * np.pi * line * t)
    assert detect_line_freq(hum, raw.info["sfreq"]) == line
    ratios = line_peak_ratios(hum, raw.info["sfreq"])
    assert ratios[line] > 10 * ratios[110.0 - line]
