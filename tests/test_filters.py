"""MNE-designed filters applied statefully: chunking, agreement with MNE, pass/stop behaviour."""

from __future__ import annotations

import subprocess
import sys

import mne
import numpy as np
import pytest

from neurofb.dsp import filters
from neurofb.dsp.filters import (
    BANDPASS_ORDER,
    NOTCH_HALF_WIDTH_HZ,
    NOTCH_ORDER,
    StreamFilter,
    bandpass_sos,
    design_filter,
    notch_frequencies,
)

SFREQ = 250.0


def _eeg_like(n_ch: int, n: int, sfreq: float, seed: int = 0) -> np.ndarray:
    """1/f noise with a DC offset per channel, µV (a stand-in when eegmat is absent)."""
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal((n_ch, n // 2 + 1)) + 1j * rng.standard_normal((n_ch, n // 2 + 1))
    spec /= np.maximum(np.fft.rfftfreq(n, 1 / sfreq), 0.5)
    x = np.fft.irfft(spec, n, axis=-1)
    return 15 * x / x.std() + rng.uniform(-500, 500, (n_ch, 1))


def _eegmat_snippet(eegmat_dir, seconds: float = 20.0) -> tuple[np.ndarray, float]:
    raw = mne.io.read_raw_edf(eegmat_dir / "Subject00_1.edf", preload=True, verbose="error")
    sfreq = raw.info["sfreq"]
    return raw.get_data(picks=list(range(19)))[:, : int(seconds * sfreq)] * 1e6, sfreq


def _mne_forward(x: np.ndarray, sfreq: float, line_freq: float | None) -> np.ndarray:
    """MNE's own offline causal (phase='forward') filtering with the same design."""
    y = mne.filter.filter_data(
        x, sfreq, 1.0, 45.0, method="iir", phase="forward", verbose="error",
        iir_params=dict(order=BANDPASS_ORDER, ftype="butter", output="sos"),
    )
    bp = bandpass_sos(sfreq, l_freq=1.0, h_freq=45.0)
    for f in notch_frequencies(sfreq, line_freq=line_freq, bandpass=bp):
        y = mne.filter.filter_data(
            y, sfreq, f + NOTCH_HALF_WIDTH_HZ, f - NOTCH_HALF_WIDTH_HZ, method="iir",
            phase="forward", verbose="error",
            iir_params=dict(order=NOTCH_ORDER, ftype="butter", output="sos"),
        )
    return y


@pytest.mark.parametrize("sizes", [[1], [7], [250], [3, 1000, 1, 64]])
def test_chunked_equals_one_shot(sizes):
    x = _eeg_like(8, 5000, SFREQ)
    sos = design_filter(SFREQ, l_freq=1.0, h_freq=45.0, line_freq=50.0)
    whole = StreamFilter(sos, 8).process(x)
    f = StreamFilter(sos, 8)
    parts, start, i = [], 0, 0
    while start < x.shape[1]:
        n = sizes[i % len(sizes)]
        parts.append(f.process(x[:, start : start + n]))
        start, i = start + n, i + 1
    np.testing.assert_allclose(np.hstack(parts), whole, rtol=0, atol=1e-9)


def test_equals_mne_offline_forward_filtering_synthetic():
    x = _eeg_like(4, 8000, SFREQ, seed=3)
    ours = StreamFilter(design_filter(SFREQ, line_freq=50.0), 4).process(x)
    # The stream filter starts in the steady state of the first sample; MNE starts at rest.
    # For a filter that blocks DC both equal MNE's filtering of x minus its first sample.
    theirs = _mne_forward(x - x[:, :1], SFREQ, 50.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-7 * np.abs(theirs).max())


def test_equals_mne_offline_forward_filtering_real_eeg(eegmat_dir):
    x, sfreq = _eegmat_snippet(eegmat_dir)
    sos = design_filter(sfreq, line_freq=50.0)
    f = StreamFilter(sos, x.shape[0])
    ours = np.hstack([f.process(x[:, i : i + 37]) for i in range(0, x.shape[1], 37)])
    theirs = _mne_forward(x - x[:, :1], sfreq, 50.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-7 * np.abs(theirs).max())


def _steady_amplitude(y: np.ndarray, sfreq: float) -> float:
    tail = y[..., int(2 * sfreq) :]
    return float(np.sqrt(2) * tail.std())


@pytest.mark.parametrize("freq", [4.0, 10.0, 20.0, 35.0])
def test_passband_sine_passes(freq):
    t = np.arange(int(6 * SFREQ)) / SFREQ
    x = (20 * np.sin(2 * np.pi * freq * t))[None]
    y = StreamFilter(design_filter(SFREQ), 1).process(x)
    assert 0.9 < _steady_amplitude(y, SFREQ) / 20 < 1.05


@pytest.mark.parametrize(("line", "sfreq"), [(50.0, 250.0), (60.0, 250.0), (50.0, 500.0)])
def test_line_noise_removed(line, sfreq):
    t = np.arange(int(6 * sfreq)) / sfreq
    x = (100 * np.sin(2 * np.pi * line * t))[None]
    y = StreamFilter(design_filter(sfreq, line_freq=line), 1).process(x)
    assert _steady_amplitude(y, sfreq) < 0.01 * 100
    # Without the notch the 45 Hz low-pass alone lets much of it through.
    y_no = StreamFilter(design_filter(sfreq, line_freq=None), 1).process(x)
    assert _steady_amplitude(y_no, sfreq) > 0.1 * 100


def test_harmonic_notched_at_500_hz():
    assert notch_frequencies(500.0, line_freq=50.0, bandpass=bandpass_sos(
        500.0, l_freq=1.0, h_freq=45.0)) == [50.0, 100.0]
    t = np.arange(3000) / 500.0
    y = StreamFilter(design_filter(500.0, line_freq=50.0), 1).process(
        (100 * np.sin(2 * np.pi * 100 * t))[None])
    assert _steady_amplitude(y, 500.0) < 1.0


def test_no_start_up_transient_from_dc_offset():
    x = np.full((3, 500), 812.5) + np.array([[0.0], [-4000.0], [150.0]])
    y = StreamFilter(design_filter(SFREQ), 3).process(x)
    assert np.abs(y).max() < 1e-6


def test_reset_restarts_the_state():
    x = _eeg_like(2, 1000, SFREQ)
    f = StreamFilter(design_filter(SFREQ), 2)
    first = f.process(x)
    f.reset()
    np.testing.assert_array_equal(f.process(x), first)


def test_bad_arguments():
    with pytest.raises(ValueError, match="Nyquist"):
        design_filter(80.0, h_freq=45.0)
    with pytest.raises(ValueError, match="l_freq < h_freq"):
        design_filter(250.0, l_freq=40.0, h_freq=30.0)
    f = StreamFilter(design_filter(SFREQ), 4)
    with pytest.raises(ValueError, match=r"\(4, n_samples\)"):
        f.process(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="n_sections, 6"):
        StreamFilter(np.zeros((2, 5)), 1)


def test_stored_designs_are_mnes_designs():
    """Every stored SOS design is what MNE designs for those settings, and is what the engine
    uses for them; other settings are designed with MNE on the spot."""
    from neurofb.dsp.filters import (
        STORED_BAND,
        STORED_MAINS,
        STORED_RATES,
        _design_with_mne,
        stored_designs,
    )

    stored = stored_designs()
    assert len(stored) == len(STORED_RATES) * len(STORED_MAINS)
    for sfreq in STORED_RATES:
        for line in STORED_MAINS:
            mne_sos = _design_with_mne(sfreq, l_freq=STORED_BAND[0], h_freq=STORED_BAND[1],
                                       line_freq=line)
            used = design_filter(sfreq, l_freq=STORED_BAND[0], h_freq=STORED_BAND[1],
                                 line_freq=line)
            # MNE's design goes through LAPACK (polynomial roots), whose last bits may differ
            # between CPUs; the stored one is the same everywhere
            np.testing.assert_allclose(used, mne_sos, rtol=1e-12, atol=1e-15)
            assert used.shape == mne_sos.shape
    # not stored (another band): designed by MNE, and different from the stored one
    other = design_filter(250.0, l_freq=0.5, h_freq=40.0, line_freq=50.0)
    np.testing.assert_array_equal(other, _design_with_mne(250.0, l_freq=0.5, h_freq=40.0,
                                                          line_freq=50.0))
    assert not np.array_equal(other[0], design_filter(250.0)[0])


def test_steady_state_is_scipys_sosfilt_zi_without_lapack():
    from scipy.signal import sosfilt, sosfilt_zi

    from neurofb.dsp.filters import sos_steady_state

    for sfreq, line in ((250.0, 50.0), (500.0, 60.0), (128.0, None), (1000.0, 50.0)):
        sos = design_filter(sfreq, line_freq=line)
        zi = sos_steady_state(sos)
        np.testing.assert_allclose(zi, sosfilt_zi(sos), rtol=1e-10, atol=1e-12)
        # a constant input stays at the steady state: no start-up transient
        y, _ = sosfilt(sos, np.full(50, 3.0), zi=zi * 3.0)
        np.testing.assert_allclose(y, 0.0, atol=1e-9)


def test_the_filter_loop_is_scipys_bit_for_bit_without_importing_scipy_signal():
    code = (
        "import sys, numpy as np\n"
        "from neurofb.dsp.filters import StreamFilter, design_filter\n"
        "f = StreamFilter(design_filter(250.0, line_freq=50.0), 4)\n"
        "f.process(np.ones((4, 100)))\n"
        "print('scipy.signal' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    from scipy.signal import sosfilt as public

    rng = np.random.default_rng(3)
    for sfreq, line in ((250.0, 50.0), (500.0, 60.0), (256.0, None)):
        sos = design_filter(sfreq, line_freq=line)
        x = rng.standard_normal((5, 3000)) * 40
        zi = rng.standard_normal((sos.shape[0], 5, 2))
        ours, z_ours = filters.sosfilt(sos, x, zi)
        theirs, z_theirs = public(sos, x, axis=-1, zi=zi)
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(z_ours, z_theirs)


def test_the_public_sosfilt_serves_when_the_loop_cannot_be_loaded(monkeypatch):
    # A SciPy that keeps its loop elsewhere: the fallback gives the very same numbers.
    rng = np.random.default_rng(4)
    sos = design_filter(250.0)
    x = rng.standard_normal((3, 700))
    zi = rng.standard_normal((sos.shape[0], 3, 2))
    fast = filters.sosfilt(sos, x, zi)
    monkeypatch.setattr(filters, "_kernel", lambda: None)
    slow = filters.sosfilt(sos, x, zi)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


@pytest.mark.parametrize("name", ["hann", "hamming"])
def test_tapers_are_scipys_bit_for_bit(name):
    from scipy.signal import get_window

    from neurofb.dsp.tapers import taper

    for n in (1, 2, 7, 128, 250, 256, 500, 1000, 1024):
        np.testing.assert_array_equal(taper(name, n), get_window(name, n))
    with pytest.raises(ValueError, match="taper must be one of"):
        taper("kaiser", 8)
