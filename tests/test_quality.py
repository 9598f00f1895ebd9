"""Signal quality: real EEG (eegmat) and BrainFlow's synthetic board, with injected faults."""

from __future__ import annotations

import time
import warnings

import mne
import numpy as np
import pytest
import scipy.signal

from neurofb.dsp.filters import StreamFilter, design_filter
from neurofb.dsp.quality import REASONS, QualityThresholds, assess

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams


@pytest.fixture(scope="module")
def synthetic_board():
    """4 s streamed from BrainFlow's synthetic board: (eeg µV, sfreq, channel names)."""
    board_id = BoardIds.SYNTHETIC_BOARD.value
    board = BoardShim(board_id, BrainFlowInputParams())
    board.prepare_session()
    try:
        board.start_stream()
        time.sleep(4.0)
        data = board.get_board_data()
    finally:
        board.release_session()
    names = BoardShim.get_board_descr(board_id)["eeg_names"].split(",")
    eeg = data[BoardShim.get_eeg_channels(board_id)]
    return eeg, float(BoardShim.get_sampling_rate(board_id)), names


@pytest.fixture(scope="module")
def real_eeg(request):
    """60 s of real EEG (eegmat Subject00, 19 channels, 500 Hz, µV)."""
    eegmat_dir = request.getfixturevalue("eegmat_dir")
    raw = mne.io.read_raw_edf(eegmat_dir / "Subject00_1.edf", preload=True, verbose="error")
    names = [c.replace("EEG ", "") for c in raw.ch_names[:19]]
    return raw.get_data(picks=list(range(19)))[:, : 60 * 500] * 1e6, 500.0, names


def _windows(x: np.ndarray, sfreq: float, *, line_freq: float | None = 50.0, hop_s: float = 1.0):
    """Raw and filtered 2-s windows, shape (n_win, n_ch, n_times) each."""
    y = StreamFilter(design_filter(sfreq, line_freq=line_freq), x.shape[0]).process(
        np.nan_to_num(x))
    w, h = int(2 * sfreq), int(hop_s * sfreq)
    ends = range(w, x.shape[1] + 1, h)
    return (np.stack([x[:, e - w : e] for e in ends]), np.stack([y[:, e - w : e] for e in ends]))


def _assess(x, sfreq, names, line_freq=50.0):
    """Quality of 2-s windows of ``x`` filtered with a notch at ``line_freq`` (None: none)."""
    raw, filt = _windows(x, sfreq, line_freq=line_freq)
    return assess(raw, filt, sfreq, ch_names=names)


def test_clean_real_eeg_scores_high(real_eeg):
    x, sfreq, names = real_eeg
    report = _assess(x, sfreq, names)
    assert report.channel_score.shape == (report.window_score.size, 19)
    assert np.mean(report.window_score >= 0.9) > 0.95
    assert np.mean(report.window_reason == "") > 0.9


def _inject(x: np.ndarray, sfreq: float, kind: str, ch: int) -> np.ndarray:
    x = x.copy()
    n = x.shape[1]
    t = np.arange(n) / sfreq
    rng = np.random.default_rng(7)
    if kind == "flat":
        x[ch] = 3.25  # electrode off: a constant
    elif kind == "flat-noisy":
        x[ch] = -12.0 + rng.normal(0, 0.1, n)  # shorted: tiny noise only
    elif kind == "railed":
        x[ch] = np.clip(x[ch] * 40, -187500.0, 187500.0)
        x[ch, ::3] = 187500.0  # stuck at the ADC rail
    elif kind == "clipped":
        hi = np.percentile(x[ch], 80)
        x[ch] = np.minimum(x[ch], hi)  # amplifier clipping: a plateau at the top
    elif kind == "excursion":
        x[ch] += 6000.0 * (t % 2 > 1)  # 6 mV jumps
    elif kind == "line noise":
        x[ch] += 400.0 * np.sin(2 * np.pi * 50.0 * t)
    elif kind == "high amplitude":
        for onset in np.arange(0.7, t[-1], 2.0):  # a blink every 2 s
            x[ch] += 350.0 * np.exp(-0.5 * ((t - onset) / 0.08) ** 2)
    elif kind == "EMG":
        sos = scipy.signal.butter(4, [30, min(95, sfreq / 2 - 5)], "bandpass", fs=sfreq,
                                  output="sos")
        x[ch] += 8 * x[ch].std() * scipy.signal.sosfilt(sos, rng.standard_normal(n))
    elif kind == "NaN":
        x[ch, ::97] = np.nan
    elif kind == "held":  # a dropout that holds the last value 0.4 s, every second
        for onset in np.arange(0.3, t[-1] - 0.5, 1.0):
            i = int(onset * sfreq)
            x[ch, i : i + int(0.4 * sfreq)] = x[ch, i]
    return x


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("flat", "flat"), ("flat-noisy", "flat"), ("railed", "railed"), ("clipped", "railed"),
     ("excursion", "railed"), ("line noise", "line noise"), ("high amplitude", "high amplitude"),
     ("EMG", "EMG"), ("NaN", "NaN")],
)
@pytest.mark.parametrize("base", ["real_eeg", "synthetic_board"])
def test_injected_fault_is_named(kind, reason, base, request):
    x, sfreq, names = request.getfixturevalue(base)
    if base == "synthetic_board":  # its first four channels are clean 5-20 Hz signals
        x, names = x[:4], names[:4]
    bad = 2
    # Mains hum is flagged where the filters leave it: here no notch (one at 50 Hz removes it).
    line_freq = None if kind == "line noise" else 50.0
    report = _assess(_inject(x, sfreq, kind, bad), sfreq, names, line_freq)
    clean = _assess(x, sfreq, names, line_freq)
    # From the second window on: the first holds the filter's response to the fault's onset.
    assert (report.channel_reason[1:, bad] == reason).all()
    assert report.channel_score[:, bad].mean() < 0.5
    others = [c for c in range(len(names)) if c != bad]
    np.testing.assert_array_equal(report.channel_score[:, others], clean.channel_score[:, others])
    flagged = report.channel_reason[:, bad] == reason
    assert all(f"{reason}: " in r and names[bad] in r for r in report.window_reason[flagged])
    assert (report.window_score[flagged] < clean.window_score[flagged]).all()
    assert np.isfinite(report.channel_score).all() and np.isfinite(report.window_score).all()


def test_synthetic_board_clean_channels_score_high_at_either_mains(synthetic_board):
    # BrainFlow's synthetic board feeds Fz, C3, Cz, C4 clean 5-20 Hz signals (its other channels
    # add 50 and 60 Hz sines and noise above 30 Hz).
    x, sfreq, names = synthetic_board
    for line_freq in (50.0, 60.0):
        assert (_assess(x, sfreq, names, line_freq=line_freq).channel_score[:, :4] > 0.9).all()


def test_window_reason_lists_channels_worst_first(real_eeg):
    x, sfreq, names = real_eeg
    x = _inject(_inject(_inject(x, sfreq, "flat", 0), sfreq, "flat", 5), sfreq, "NaN", 9)
    report = _assess(x, sfreq, names)
    assert report.window_reason[3] == f"flat: {names[0]}, {names[5]}; NaN: {names[9]}"
    assert report.window_score[3] == pytest.approx(1 - 3 / 19, abs=0.02)
    assert report.channel_score[3, 9] == 0.0


def test_score_is_graded_and_reasons_known(real_eeg):
    x, sfreq, names = real_eeg
    t = np.arange(x.shape[1]) / sfreq
    scores = []
    for amp in (5.0, 30.0, 80.0, 400.0):
        y = x.copy()
        y[4] += amp * np.sin(2 * np.pi * 50.0 * t)
        scores.append(_assess(y, sfreq, names, line_freq=None).channel_score[:, 4].mean())
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0.95 and scores[-1] < 0.05
    assert 0.05 < scores[2] < 0.95 or 0.05 < scores[1] < 0.95
    report = _assess(x, sfreq, names)
    assert set(report.channel_reason.ravel()) <= {"", *REASONS}


def test_line_noise_is_judged_after_the_notch(real_eeg):
    # 400 µV of 50 Hz hum (a loose electrode): the 50 Hz notch removes it, so the channel is
    # fine; without a notch, or with the notch at 60 Hz, it reaches the features and is named.
    x, sfreq, names = real_eeg
    y = _inject(x, sfreq, "line noise", 1)
    notched = _assess(y, sfreq, names, line_freq=50.0)
    assert not (notched.channel_reason == "line noise").any()
    assert notched.channel_score[1:, 1].min() > 0.9
    for line_freq in (None, 60.0):
        missed = _assess(y, sfreq, names, line_freq=line_freq)
        assert (missed.channel_reason[1:, 1] == "line noise").all()


def test_mains_is_never_taken_for_emg(real_eeg):
    # 60 Hz hum under a 50 Hz setting used to count as muscle (power above 30 Hz): it is line
    # noise, whatever the setting.
    x, sfreq, names = real_eeg
    t = np.arange(x.shape[1]) / sfreq
    y = x.copy()
    y[3] += 400.0 * np.sin(2 * np.pi * 60.0 * t)
    report = _assess(y, sfreq, names, line_freq=50.0)
    assert not (report.channel_reason[:, 3] == "EMG").any()
    assert (report.channel_reason[1:, 3] == "line noise").all()


def test_thresholds_are_configurable(real_eeg):
    x, sfreq, names = real_eeg
    raw, filt = _windows(x, sfreq)
    strict = assess(raw, filt, sfreq, ch_names=names,
                    thresholds=QualityThresholds(amplitude_uv=(1.0, 2.0)))
    assert (strict.channel_reason == "high amplitude").all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_windows, n_channels, n_times"):
        assess(np.zeros((2, 500)), np.zeros((2, 500)), 250.0)
    with pytest.raises(ValueError, match="channel names"):
        assess(np.zeros((1, 2, 500)), np.zeros((1, 2, 500)), 250.0, ch_names=["Fz"])


@pytest.mark.parametrize(("sfreq", "n_times"), [(80.0, 160), (128.0, 64), (500.0, 1000)])
def test_any_rate_and_window_length_gives_valid_scores(sfreq, n_times):
    rng = np.random.default_rng(3)
    t = np.arange(n_times) / sfreq
    x = 20 * np.sin(2 * np.pi * 10 * t) + rng.normal(0, 2, (2, 4, n_times))
    report = assess(x, x, sfreq)
    assert report.channel_score.shape == (2, 4)
    assert ((report.channel_score >= 0) & (report.channel_score <= 1)).all()
    assert (report.window_score > 0.9).all()


@pytest.mark.parametrize("base", ["real_eeg", "synthetic_board"])
def test_a_held_value_is_a_dropout_not_signal(base, request):
    """0.4 s of one repeated value (a dropout that holds the last sample), once a second: the
    old checks let a third of a window held pass (only half a window at one extreme was
    "stuck"), and its focus was scored. Every window is now unusable on that channel: "flat",
    or "railed" where the held value is the window's extreme (a clipping plateau)."""
    x, sfreq, names = request.getfixturevalue(base)
    if base == "synthetic_board":
        x, names = x[:4], names[:4]
    bad = 2
    report = _assess(_inject(x, sfreq, "held", bad), sfreq, names)
    clean = _assess(x, sfreq, names)
    reasons = set(report.channel_reason[1:, bad])
    assert "flat" in reasons and reasons <= {"flat", "railed"}
    assert (report.channel_score[1:, bad] == 0.0).all()
    others = [c for c in range(len(names)) if c != bad]
    np.testing.assert_array_equal(report.channel_score[:, others], clean.channel_score[:, others])
    assert not (clean.channel_reason[:, bad] == "flat").any()


def test_a_reason_every_channel_shares_is_said_once(real_eeg):
    """A dropout on every channel listed the 19 names in the status line and the trace."""
    x, sfreq, names = real_eeg
    held = x[:, : int(4 * sfreq)].copy()
    held[:, :] = held[:, :1]  # every channel holds its first value
    report = _assess(held, sfreq, names)
    assert set(report.window_reason) == {"flat: all 19 channels"}
    some = x[:, : int(4 * sfreq)].copy()
    some[:2] = 3.0
    assert set(_assess(some, sfreq, names).window_reason[1:]) == {f"flat: {names[0]}, {names[1]}"}
