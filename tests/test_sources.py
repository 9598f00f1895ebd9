"""BrainFlow sources: the real synthetic and playback boards, board names, device errors."""

from __future__ import annotations

import gc
import time
import warnings

import numpy as np
import pytest
from board_helpers import record_synthetic_csv

from neurofb.boards import board_id, board_names
from neurofb.errors import BoardError, EndOfStream
from neurofb.stream.brainflow import BrainFlowSource, open_board
from neurofb.stream.source import Source

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowError

SYNTH = BoardIds.SYNTHETIC_BOARD.value


def read_for(source: BrainFlowSource, seconds: float) -> list:
    """Read chunks from a started source for about ``seconds``."""
    chunks = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        chunk = source.read()
        if chunk is not None:
            chunks.append(chunk)
        time.sleep(0.02)
    return chunks


@pytest.fixture
def synthetic():
    source = open_board("synthetic")
    yield source
    source.stop()


def test_synthetic_streams_eeg_chunks(synthetic):
    assert isinstance(synthetic, Source)
    synthetic.start()
    chunks = read_for(synthetic, 0.8)
    synthetic.stop()
    assert len(chunks) >= 2
    names = tuple(BoardShim.get_eeg_names(SYNTH))
    assert synthetic.info.ch_names == names
    assert synthetic.info.sfreq == BoardShim.get_sampling_rate(SYNTH)
    assert synthetic.info.unit == "uV"
    expected = 0
    for chunk in chunks:
        assert chunk.ch_names == names
        assert chunk.data.shape == (len(names), chunk.n_samples)
        assert chunk.data.dtype == np.float64
        assert chunk.sfreq == synthetic.info.sfreq
        assert chunk.board == "synthetic"
        assert chunk.first_sample == expected
        expected += chunk.n_samples
    assert synthetic.samples_delivered == expected
    stamps = np.concatenate([c.timestamps for c in chunks])
    assert np.all(np.diff(stamps) > 0)
    # Board clock: Unix seconds, close to now.
    assert abs(stamps[-1] - time.time()) < 60
    data = np.concatenate([c.data for c in chunks], axis=1)
    assert np.all(np.isfinite(data)) and data.std() > 0


def test_stop_is_idempotent_and_releases_the_board(synthetic):
    synthetic.start()
    synthetic.stop()
    synthetic.stop()
    with pytest.raises(BoardError, match="not streaming"):
        synthetic.read()
    # Released: another synthetic session can open in this process.
    other = open_board("synthetic")
    other.start()
    other.stop()


def test_restart_keeps_counting_samples(synthetic):
    synthetic.start()
    before = read_for(synthetic, 0.3)
    synthetic.restart()
    after = read_for(synthetic, 0.3)
    synthetic.stop()
    n_before = sum(c.n_samples for c in before)
    assert before and after
    assert after[0].first_sample == n_before


def test_busy_board_gives_clear_error(synthetic):
    synthetic.start()
    second = open_board("synthetic")
    with pytest.raises(BoardError, match=r"could not open synthetic.*already open in this program"):
        second.start()
    # The first session is unharmed, even once the second source is garbage collected.
    del second
    gc.collect()
    assert read_for(synthetic, 0.2)


def test_unknown_board_lists_valid_names():
    with pytest.raises(BoardError) as err:
        open_board("nosuchboard")
    message = str(err.value)
    assert "nosuchboard" in message
    for name in ("synthetic", "playback", "cyton", "ganglion", "muse_s"):
        assert name in message


def test_board_names_cover_brainflow():
    names = board_names()
    assert names == sorted(names)
    known = [b for b in BoardIds if b.value != BoardIds.NO_BOARD.value]
    assert len(names) == len(known)
    for name in names:
        assert name == name.lower()
        board_id(name)  # every listed name resolves


@pytest.mark.parametrize("spelling", ["muse_s", "muse-s", "MUSE_S", "muse_s_board"])
def test_board_name_spellings(spelling):
    assert board_id(spelling) == BoardIds.MUSE_S_BOARD.value


def test_board_id_numbers_and_playback_alias():
    assert board_id(str(BoardIds.CYTON_BOARD.value)) == BoardIds.CYTON_BOARD.value
    assert board_id("playback") == BoardIds.PLAYBACK_FILE_BOARD.value
    assert board_id("playback_file") == BoardIds.PLAYBACK_FILE_BOARD.value
    with pytest.raises(BoardError):
        board_id("12345")


def test_channel_names_fall_back_when_board_has_none():
    ganglion = BoardIds.GANGLION_BOARD.value
    n = len(BoardShim.get_eeg_channels(ganglion))
    try:
        names = BoardShim.get_eeg_names(ganglion)
    except BrainFlowError:
        names = [f"EEG{i + 1}" for i in range(n)]
    assert open_board("ganglion").info.ch_names == tuple(names)
    muse = open_board("muse_s").info
    assert muse.ch_names == tuple(BoardShim.get_eeg_names(BoardIds.MUSE_S_BOARD.value))
    assert muse.sfreq == BoardShim.get_sampling_rate(BoardIds.MUSE_S_BOARD.value)


def test_missing_serial_device_gives_clear_error():
    cyton = open_board("cyton", serial_port="/dev/neurofb-no-such-port", timeout=1)
    assert cyton.info.ch_names == tuple(BoardShim.get_eeg_names(BoardIds.CYTON_BOARD.value))
    with pytest.raises(BoardError) as err:
        cyton.start()
    message = str(err.value)
    assert "could not open cyton on /dev/neurofb-no-such-port" in message
    assert "check the port" in message
    cyton.stop()  # safe after a failed start


def test_bad_connection_parameters():
    with pytest.raises(ValueError, match="ip_protocol"):
        open_board("cyton_wifi", ip_address="127.0.0.1", ip_protocol="carrier-pigeon")
    with pytest.raises(ValueError, match="ip_port"):
        open_board("cyton_wifi", ip_address="127.0.0.1", ip_port=70000)
    with pytest.raises(ValueError, match="timeout"):
        open_board("cyton", serial_port="/dev/x", timeout=0)
    with pytest.raises(BoardError, match="master-board"):
        open_board("cyton", master_board="synthetic")


def test_playback_streams_the_file(tmp_path):
    path = tmp_path / "synthetic.csv"
    saved = record_synthetic_csv(path, 0.8)
    source = open_board("playback", file=path)
    assert source.info.ch_names == tuple(BoardShim.get_eeg_names(SYNTH))
    assert source.info.board == "playback"
    # a file played back streams like a board, but is no one's EEG of now; this one is the
    # synthetic board's sines
    assert source.info.live and source.info.replayed and source.info.simulated
    synthetic = open_board("synthetic").info
    assert synthetic.simulated and not synthetic.replayed
    source.start()
    chunks = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            try:
                chunk = source.read()
            except EndOfStream:
                break
            if chunk is not None:
                chunks.append(chunk)
            time.sleep(0.02)
        else:
            pytest.fail("playback never reached the end of the file")
    finally:
        source.stop()
    played = np.concatenate([c.data for c in chunks], axis=1)
    eeg_rows = BoardShim.get_eeg_channels(SYNTH)
    assert played.shape == (len(eeg_rows), saved.shape[1])
    np.testing.assert_allclose(played, saved[eeg_rows], atol=1e-9)
    assert [c.first_sample for c in chunks] == list(
        np.cumsum([0] + [c.n_samples for c in chunks[:-1]])
    )


def test_playback_file_must_fit_the_master_board(tmp_path):
    path = tmp_path / "synthetic.csv"
    record_synthetic_csv(path, 0.2)
    n_synth = BoardShim.get_num_rows(SYNTH)
    n_cyton = BoardShim.get_num_rows(BoardIds.CYTON_BOARD.value)
    match = f"has {n_synth} columns but cyton files have {n_cyton}.*synthetic"
    with pytest.raises(BoardError, match=match):
        open_board("playback", file=path, master_board="cyton")
    with pytest.raises(BoardError, match="not found"):
        open_board("playback", file=tmp_path / "missing.csv")
    with pytest.raises(BoardError, match="--file"):
        open_board("playback")


def test_ring_buffer_bounds_unread_samples():
    source = open_board("synthetic", buffer_s=0.5)
    capacity = max(round(0.5 * source.info.sfreq), 256)
    source.start()
    try:
        time.sleep(2.5 * capacity / source.info.sfreq)  # the board makes more than fits
        chunk = source.read()
    finally:
        source.stop()
    assert chunk is not None
    assert 0 < chunk.n_samples <= capacity
    with pytest.raises(ValueError, match="buffer_s"):
        open_board("synthetic", buffer_s=0)


@pytest.mark.parametrize(("details", "simulated"), [
    ({"board_id": -1, "master_board": -1}, True),   # the synthetic board itself
    ({"board_id": -3, "master_board": -1}, True),   # a file of it, played back
    ({"board_id": -3, "master_board": 0}, False),   # a Cyton's file, played back
    ({"board_id": 0, "master_board": 0}, False),    # a Cyton
])  # fmt: skip
def test_a_recording_is_gated_in_replay_as_its_source_was_live(details, simulated, tmp_path):
    """Live, a playback of a synthetic-board file counts as simulated (not gated): its
    recording must replay the same way, or live and replay traces would differ."""
    import numpy as np

    from neurofb.recording import RecordingWriter, open_recording
    from neurofb.recording.base import recorded_simulation
    from neurofb.stream.replay import ReplaySource
    from neurofb.types import Chunk, SourceInfo

    info = SourceInfo(("Fz", "Cz", "Pz"), 250.0, "playback" if details["board_id"] == -3
                      else "board", details=details)
    with RecordingWriter(tmp_path / "rec", info) as w:
        w.write_chunk(Chunk(np.zeros((3, 500)), np.arange(500) / 250.0, info.ch_names, 250.0))
    rec = open_recording(tmp_path / "rec")
    assert recorded_simulation(rec) is simulated
    assert ReplaySource(rec, speed=None).info.simulated is simulated
