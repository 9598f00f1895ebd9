"""The pipeline: chunking-independent windows and updates, NaN gating, smoothing, bounded memory."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings

import mne
import numpy as np
import pytest

from neurofb.config import EngineConfig, usable_cpus
from neurofb.errors import ChannelError
from neurofb.focus.bandpower import BandPowerEstimator
from neurofb.stream.pipeline import Pipeline
from neurofb.types import Chunk, SourceInfo, Update

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

NAMES = ("Fz", "C3", "Cz", "C4", "Pz", "O1", "O2", "T7")


def _eeg(seconds: float, sfreq: float = 250.0, seed: int = 0) -> np.ndarray:
    """1/f EEG-like noise with waxing and waning alpha and a DC offset, µV, 8 channels."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    spec = rng.standard_normal((8, n // 2 + 1)) + 1j * rng.standard_normal((8, n // 2 + 1))
    spec /= np.maximum(np.fft.rfftfreq(n, 1 / sfreq), 1.0)
    x = np.fft.irfft(spec, n, axis=-1)
    t = np.arange(n) / sfreq
    alpha = 10 * (1 + np.sin(2 * np.pi * t / 7)) * np.sin(2 * np.pi * 10 * t)
    return 10 * x / x.std() + alpha + rng.uniform(-300, 300, (8, 1))


def _info(sfreq=250.0, names=NAMES, live=False) -> SourceInfo:
    return SourceInfo(tuple(names), sfreq, "test", live=live)


def _feed(pipeline: Pipeline, x: np.ndarray, sizes, t0: float = 0.0) -> list[Update]:
    """Feed ``x`` in chunks cycling through ``sizes`` (an int or a list of ints)."""
    sizes = [sizes] if isinstance(sizes, int) else list(sizes)
    out, start, i = [], 0, 0
    while start < x.shape[1]:
        n = sizes[i % len(sizes)]
        stop = min(start + n, x.shape[1])
        ts = t0 + np.arange(start, stop) / pipeline.sfreq
        out += pipeline.process(Chunk(x[:, start:stop], ts, pipeline.ch_names, pipeline.sfreq,
                                      start))
        start, i = stop, i + 1
    return out


def _strip(u: Update) -> Update:
    """The update without its latency, NaN band powers (a channel without data) comparable."""
    rel = tuple(tuple("NaN" if math.isnan(v) else v for v in row) for row in u.rel_power)
    return dataclasses.replace(u, latency_s=0.0, rel_power=rel)


@pytest.mark.parametrize("sizes", [1, 7, 250, [3, 1000, 1, 64, 5000]])
def test_any_chunking_gives_identical_updates(sizes):
    x = _eeg(30.0)
    whole = [_strip(u) for u in _feed(Pipeline(_info()), x, x.shape[1])]
    chunked = [_strip(u) for u in _feed(Pipeline(_info()), x, sizes)]
    assert len(whole) == len(chunked) == 1 + (x.shape[1] - 500) // 63
    assert chunked == whole


def test_real_eeg_chunkings_agree(eegmat_dir):
    raw = mne.io.read_raw_edf(eegmat_dir / "Subject01_2.edf", preload=True, verbose="error")
    x = raw.get_data(picks=list(range(19)))[:, : 40 * 500] * 1e6
    names = [c.replace("EEG ", "") for c in raw.ch_names[:19]]
    cfg = EngineConfig(hop_s=1.0)
    whole = _feed(Pipeline(_info(500.0, names), config=cfg), x, x.shape[1])
    chunked = _feed(Pipeline(_info(500.0, names), config=cfg), x, [17, 500, 3333])
    assert [_strip(u) for u in whole] == [_strip(u) for u in chunked]
    assert len(whole) == 39
    assert sum(u.focus is not None for u in whole) >= 35  # clean real EEG is rarely gated
    assert all(0.0 <= u.focus <= 1.0 for u in whole if u.focus is not None)


def test_window_ends_and_times():
    x = _eeg(10.0)
    p = Pipeline(_info(), config=EngineConfig(window_s=2.0, hop_s=0.5))
    ups = _feed(p, x, 37)
    assert [u.sample_index for u in ups] == list(range(500, 2501, 125))
    assert [u.t for u in ups] == [n / 250.0 for n in range(500, 2501, 125)]
    assert p.window_samples == 500 and p.hop_samples == 125
    for u in ups:
        assert len(u.channel_quality) == len(u.channel_reasons) == 8
        assert len(u.rel_power) == 8 and len(u.rel_power[0]) == 6
        assert u.attention is not None and math.isclose(sum(u.attention), 1.0)


def test_nan_samples_gate_their_windows_only():
    x = _eeg(20.0)
    x[3, 2500:2510] = np.nan  # 10.00-10.04 s on C4
    x[5, 2600] = np.inf
    ups = _feed(Pipeline(_info()), x, 50)
    hit = [u for u in ups if u.sample_index - 500 < 2601 and u.sample_index > 2500]
    assert hit and all(u.focus is None and u.raw_focus is None for u in hit)
    assert all(u.reason.startswith("NaN: ") for u in hit)
    on_c4 = [u for u in hit if u.sample_index - 500 < 2510]
    assert on_c4 and all("C4" in u.reason and u.channel_reasons[3] == "NaN"
                          and u.channel_quality[3] == 0.0 for u in on_c4)
    assert all("O1" in u.reason for u in hit if u.sample_index > 2600)
    later = [u for u in ups if u.sample_index > 2601 + 500]
    assert later and all(u.focus is not None for u in later)
    for u in ups:
        # a channel's band powers are NaN in the windows where it had NaN/inf (they would
        # come from the values held for the filter, not from the data), finite elsewhere
        start = u.sample_index - 500
        lost = {3} if start < 2510 and u.sample_index > 2500 else set()
        lost |= {5} if start <= 2600 < u.sample_index else set()
        for ch, row in enumerate(u.rel_power):
            assert all(math.isnan(v) for v in row) if ch in lost else all(
                math.isfinite(v) for v in row), (u.sample_index, ch)
        assert u.focus is None or math.isfinite(u.focus)


def test_gated_windows_do_not_move_the_smoothing():
    x = _eeg(30.0)
    x[:6, 3000:3500] = 0.0  # six of eight channels flat for 2 s: quality < 0.5
    cfg = EngineConfig(smoothing_s=2.0)
    ups = _feed(Pipeline(_info(), config=cfg), x, 125)
    gated = [i for i, u in enumerate(ups) if u.focus is None]
    assert gated and all("flat: " in ups[i].reason for i in gated)
    assert all(ups[i].quality < 0.5 for i in gated)
    before, after = gated[0] - 1, gated[-1] + 1
    alpha = 1 - math.exp(-0.252 / 2.0)  # hop = 63 samples at 250 Hz
    expected = ups[before].focus + alpha * (ups[after].raw_focus - ups[before].focus)
    assert ups[after].focus == pytest.approx(expected)


def test_smoothing_zero_passes_raw_focus_through():
    ups = _feed(Pipeline(_info(), config=EngineConfig(smoothing_s=0.0)), _eeg(8.0), 100)
    assert all(u.focus == u.raw_focus for u in ups)
    smoothed = _feed(Pipeline(_info(), config=EngineConfig(smoothing_s=3.0)), _eeg(8.0), 100)
    raw = np.array([u.raw_focus for u in smoothed])
    assert np.std(np.diff([u.focus for u in smoothed])) < np.std(np.diff(raw))


def test_min_quality_zero_never_gates_and_one_always_gates():
    x = _eeg(6.0)
    x[0] = 1.0  # one flat channel
    open_ = _feed(Pipeline(_info(), config=EngineConfig(min_quality=0.0)), x, 250)
    assert all(u.focus is not None for u in open_)
    closed = _feed(Pipeline(_info(), config=EngineConfig(min_quality=1.0)), x, 250)
    assert all(u.focus is None and u.reason.startswith("flat: Fz") for u in closed)


def test_chunk_that_does_not_fit_is_refused():
    p = Pipeline(_info())
    with pytest.raises(ChannelError, match="missing"):
        p.process(Chunk(np.zeros((7, 10)), np.arange(10.0), NAMES[:7], 250.0))
    with pytest.raises(ChannelError, match="another order"):
        p.process(Chunk(np.zeros((8, 10)), np.arange(10.0), NAMES[::-1], 250.0))
    with pytest.raises(ChannelError, match="500 Hz"):
        p.process(Chunk(np.zeros((8, 10)), np.arange(10.0), NAMES, 500.0))


def test_estimator_that_does_not_fit_is_refused_at_start():
    with pytest.raises(ChannelError, match="valid names"):
        Pipeline(_info(), BandPowerEstimator("band:beta/theta@Pz,Oz"))
    with pytest.raises(ChannelError, match="no EEG channels"):
        Pipeline(_info(names=()))
    with pytest.raises(ChannelError, match=r"80 Hz.*below Nyquist.*--h-freq"):
        Pipeline(_info(sfreq=80.0), config=EngineConfig(h_freq=44.0))


def test_default_low_pass_is_lowered_for_a_slow_source_with_a_note():
    # 90 Hz: the default 45 Hz low-pass sits at Nyquist; it is lowered and the user told so.
    p = Pipeline(_info(sfreq=90.0))
    assert p.config.h_freq == 40.5 < 45.0
    assert len(p.notes) == 1 and "40.5 Hz instead of 45 Hz" in p.notes[0]
    assert Pipeline(_info()).notes == []  # a fast enough source keeps the default, no note


def test_reset_starts_over():
    x = _eeg(8.0)
    p = Pipeline(_info())
    first = [_strip(u) for u in _feed(p, x, 333)]
    p.reset()
    assert [_strip(u) for u in _feed(p, x, 333)] == first
    assert p.n_samples == x.shape[1]


def test_memory_is_bounded_for_huge_chunks():
    p = Pipeline(_info(), max_batch_windows=16)
    shape = p._raw.shape
    x = _eeg(600.0)  # ten minutes in one chunk
    ups = _feed(p, x, x.shape[1])
    assert len(ups) == 1 + (x.shape[1] - 500) // 63
    assert p._raw.shape == shape == (8, 500 - 1 + 16 * 63)


def test_latency_live_and_replay():
    x = _eeg(4.0)
    now = time.time()
    live = _feed(Pipeline(_info(live=True)), x, 25, t0=now - 4.0)
    assert all(0.0 <= u.latency_s < 60.0 for u in live)
    replay = _feed(Pipeline(_info(live=False)), x, x.shape[1])
    assert all(0.0 < u.latency_s < 5.0 for u in replay)


def test_default_estimator_uses_the_configured_baseline():
    p = Pipeline(_info(), config=EngineConfig(hop_s=0.5, baseline_s=5.0))
    assert p.estimator_name == "engagement"
    assert p._bound.n_baseline == 10


def test_streams_brainflow_synthetic_board_end_to_end():
    board_id = BoardIds.SYNTHETIC_BOARD.value
    names = tuple(BoardShim.get_board_descr(board_id)["eeg_names"].split(","))
    rows = BoardShim.get_eeg_channels(board_id)
    sfreq = float(BoardShim.get_sampling_rate(board_id))
    ts_row = BoardShim.get_timestamp_channel(board_id)
    info = SourceInfo(names, sfreq, "synthetic", simulated=True)
    # Default gate: the synthetic board's sines are scored honestly but not gated.
    pipeline = Pipeline(info)
    strict = Pipeline(info, config=EngineConfig(min_quality=0.6))
    # --min-quality 0.5 given explicitly: the default's value, but asked for, so it gates
    explicit = Pipeline(info, config=EngineConfig(min_quality=0.5, gate_simulated=True))
    board = BoardShim(board_id, BrainFlowInputParams())
    board.prepare_session()
    updates, gated, asked, n = [], [], [], 0
    try:
        board.start_stream()
        deadline = time.monotonic() + 30.0
        while len(updates) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
            data = board.get_board_data()
            if data.shape[1]:
                chunk = Chunk(data[rows], data[ts_row], names, sfreq, n)
                updates += pipeline.process(chunk)
                gated += strict.process(chunk)
                asked += explicit.process(chunk)
                n += data.shape[1]
    finally:
        board.release_session()
    assert len(updates) >= 6
    assert [u.sample_index for u in updates] == [500 + 63 * k for k in range(len(updates))]
    assert all(u.focus is not None and 0 <= u.focus <= 1 for u in updates)
    assert all(0.0 <= u.latency_s < 5.0 for u in updates)
    assert all(u.quality < 0.6 and u.reason for u in updates)  # reported, not hidden
    # An explicit gate still applies to the synthetic board.
    assert [u.sample_index for u in gated] == [u.sample_index for u in updates]
    assert all(u.focus is None for u in gated)
    assert len(asked) == len(updates) and all(u.focus is None for u in asked)
    # The board's 50 and 60 Hz sine channels (F7, F1) are flagged in every window after the
    # first: whichever mains the notch takes out, the other sine is left (and it is no EEG).
    assert all(u.channel_reasons[names.index(ch)] for ch in ("F7", "F1") for u in updates[1:])


@pytest.mark.parametrize("baseline_s", [0.0, 10.0])
def test_replay_worker_thread_gives_the_serial_live_paths_updates(baseline_s):
    """In replay a worker thread filters the next block and scores quality while the pipeline's
    thread computes band powers and focus (the stateless cold model before gating, the
    baseline mode after): the updates equal the live path's, one hop at a time, serially."""
    from neurofb.focus.neural import load_estimator

    x = _eeg(40.0)
    x[:6, 3000:3500] = 0.0  # six of eight channels flat for 2 s: gated windows
    x[2, 7000] = np.nan
    default = Pipeline(_info(live=False), load_estimator())
    assert default._alongside is (usable_cpus() > 1)
    assert not Pipeline(_info(live=True), load_estimator())._alongside
    replay = Pipeline(_info(live=False), load_estimator(baseline_s=baseline_s), worker=True,
                      max_batch_windows=4)  # many blocks per chunk: filtering runs ahead
    live = Pipeline(_info(live=True), load_estimator(baseline_s=baseline_s))
    try:
        fast = _feed(replay, x, [x.shape[1] // 3, x.shape[1]])  # big chunks, many blocks
        slow = _feed(live, x, 63)  # one hop at a time, serially
    finally:
        replay.close()
    assert replay._worker is None  # close ended the thread
    assert [_strip(u) for u in fast] == [_strip(u) for u in slow]
    gated = [u for u in fast if u.focus is None]
    assert gated and len(gated) < len(fast) - 10
    assert all(u.attention is None for u in gated)
    assert all(u.attention is not None and abs(sum(u.attention) - 1) < 1e-6
               for u in fast if u.focus is not None)
    modes = {u.mode for u in fast if u.focus is not None}
    assert modes == ({"cold"} if not baseline_s else {"rest", "baseline"})


def test_an_explicit_min_quality_is_not_taken_for_the_default():
    from neurofb.cli import build_parser
    from neurofb.commands.options import engine_config

    parser = build_parser()
    for argv, asked in ((["stream"], False), (["stream", "--min-quality", "0.5"], True),
                        (["replay", "x", "--min-quality", "0.5"], True)):
        config = engine_config(parser.parse_args(argv))
        assert config.min_quality == 0.5 and config.gate_simulated is asked, argv
        assert config.gate_for(simulated=True) == (0.5 if asked else 0.0)
        assert config.gate_for(simulated=False) == 0.5
