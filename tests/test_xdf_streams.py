"""Which stream of a LabRecorder XDF file is the EEG, and what its marker streams say.

Files are written with xdf_writer.py; neurofb's own ``--lsl-out-eeg`` stream carries the header
a real outlet of neurofb's makes (liblsl on loopback, conftest.py).
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from xdf_writer import XdfStream, write_xdf

from neurofb.outputs.clock import StreamClock
from neurofb.outputs.lsl_out import LslOutput, LslOutRequest
from neurofb.recording.xdf import read_xdf
from neurofb.types import SourceInfo

SFREQ = 256.0
LABELS = ["TP9", "AF7", "AF8", "TP10"]
T0 = 5000.0
N = int(20 * SFREQ)


def _eeg(name: str, seed: int, info_xml: str | None = None) -> XdfStream:
    data = np.random.default_rng(seed).standard_normal((N, len(LABELS))) * 10.0
    return XdfStream(name, "EEG", sfreq=SFREQ, channel_format="float32",
                     stamps=T0 + np.arange(N) / SFREQ, data=data, labels=LABELS,
                     units=["microvolts"] * len(LABELS), types=["EEG"] * len(LABELS),
                     info_xml=info_xml)  # fmt: skip


@pytest.fixture(scope="module")
def own_eeg_header(lsl_loopback) -> str:
    """The <info> header of neurofb's --lsl-out-eeg stream, as its real outlet describes it."""
    prefix = f"game-{uuid.uuid4().hex[:8]}"  # not the default name: the description tells
    info = SourceInfo(ch_names=tuple(LABELS), sfreq=SFREQ, board="muse")
    out = LslOutput(LslOutRequest(prefix, eeg=True), info, hop_s=0.25,
                    clock=StreamClock(SFREQ, live=False))  # fmt: skip
    try:
        return out.eeg_outlet.get_info().as_xml()
    finally:
        out.close()


def test_headset_stream_is_read_not_neurofbs_filtered_one(own_eeg_header, tmp_path):
    own = _eeg("own", 1, info_xml=own_eeg_header)
    triggers = XdfStream("Triggers", "Markers", sfreq=0, channel_format="int32",
                         stamps=[T0 + 5.0, T0 + 10.0], data=np.array([[5], [7]]))  # fmt: skip
    codes = XdfStream("Codes", "Markers", sfreq=0, channel_format="int32",
                      stamps=[T0 + 12.0], data=np.array([[5, 7]]))  # fmt: skip
    words = XdfStream("Words", "Markers", sfreq=0, channel_format="string",
                      stamps=[T0 + 15.0], strings=["block_start:task"])  # fmt: skip
    path = write_xdf(tmp_path / "lab.xdf", [own, _eeg("Muse", 2), triggers, codes, words])
    rec = read_xdf(path)
    assert rec.info.board == "Muse"
    assert any("left out" in w and own.name in w for w in rec.warnings), rec.warnings
    assert [(m.kind, m.label) for m in rec.markers] == [
        ("note", "5"), ("note", "7"), ("note", "5,7"), ("block_start", "task")]  # fmt: skip


def test_neurofbs_filtered_stream_alone_is_read_with_a_warning(own_eeg_header, tmp_path):
    own = _eeg("own", 1, info_xml=own_eeg_header)
    rec = read_xdf(write_xdf(tmp_path / "own.xdf", [own]))
    assert rec.ch_names == tuple(LABELS)
    assert any("filters it a second time" in w for w in rec.warnings), rec.warnings


def test_two_headset_streams_read_the_first_and_say_how_to_choose(tmp_path):
    path = write_xdf(tmp_path / "two.xdf", [_eeg("Muse", 1), _eeg("Cyton", 2)])
    rec = read_xdf(path)
    assert rec.info.board == "Muse"
    (warning,) = [w for w in rec.warnings if "EEG streams" in w]
    assert "'Muse'" in warning and "'Cyton'" in warning and "--stream NAME" in warning
    assert read_xdf(path, stream="Cyton").info.board == "Cyton"


def test_an_eeg_stream_of_one_sample_is_a_clear_error(tmp_path):
    from neurofb.errors import RecordingError

    one = XdfStream("Cut", "EEG", sfreq=SFREQ, channel_format="float32", stamps=[T0],
                    data=np.ones((1, 2)), labels=["Cz", "Pz"], units=[], types=[])
    with pytest.raises(RecordingError, match=r"stream 'Cut' of .*one\.xdf holds 1 sample"):
        read_xdf(write_xdf(tmp_path / "one.xdf", [one]))


def test_timestamps_that_jump_back_are_a_damaged_file_for_every_command(tmp_path):
    """A flipped byte in one timestamp (40,000 s ahead, then back): the reader refuses it, so
    import no longer writes a folder that then fails its own check, and replay and export no
    longer place markers by a broken clock."""
    from neurofb.errors import RecordingError

    stream = _eeg("Damaged", 3)
    stream.stamps[100] += 40_000.0
    path = write_xdf(tmp_path / "damaged.xdf", [stream])
    with pytest.raises(RecordingError, match=r"'Damaged' of .*damaged\.xdf is damaged: its "
                                             r"timestamps are not a clock \(sample 101"):
        read_xdf(path)
    stream.stamps[100] -= 40_000.0
    assert read_xdf(write_xdf(tmp_path / "fine.xdf", [stream])).n_samples == len(stream.stamps)


def test_an_import_starts_when_the_file_says_and_ends_that_plus_its_length(tmp_path):
    """The file header's <datetime> (LabRecorder's recording start, with its UTC offset) is the
    recording's start, in UTC; without one the import's time is, with a warning. Either way
    the end is the start plus the samples' duration, not when the import finished writing."""
    import datetime as dt

    from neurofb.recording import import_file, read_meta

    path = write_xdf(tmp_path / "dated.xdf", [_eeg("Dated", 4)],
                     datetime="2019-05-21T15:14:31+0200")
    meta = read_meta(import_file(path, tmp_path / "dated"))
    assert meta["start_unix"] == dt.datetime(2019, 5, 21, 13, 14, 31, tzinfo=dt.UTC).timestamp()
    assert meta["start_time"].startswith("2019-05-21T13:14:31") and meta["start_time"].endswith(
        "+00:00")
    assert meta["end_unix"] - meta["start_unix"] == pytest.approx(N / SFREQ)
    undated = write_xdf(tmp_path / "undated.xdf", [_eeg("Undated", 5)])
    assert not any("recorded" in w for w in read_xdf(undated).warnings)  # replay: no matter
    meta = read_meta(import_file(undated, tmp_path / "undated"))
    assert any("does not say when it was recorded" in w for w in meta["import_warnings"])
    assert meta["end_unix"] - meta["start_unix"] == pytest.approx(N / SFREQ)
