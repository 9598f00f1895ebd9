"""Import/export formats: round trips, BrainFlow playback, eegmat, damaged files (fuzzed)."""

from __future__ import annotations

import json
import shutil
import time
import warnings

import numpy as np
import pytest

from neurofb.boards import board_layout
from neurofb.errors import RecordingError
from neurofb.recording import Recording, RecordingWriter, formats, open_recording
from neurofb.recording.mne_files import KINDS, decode_annotation, encode_marker
from neurofb.stream.brainflow import open_board
from neurofb.types import Marker

SFREQ = 250.0
MARKERS = [
    Marker(0.0, "session_start"),
    Marker(0.2, "threshold", value=0.6),
    Marker(0.5, "block_start", "rest"),
    Marker(1.0, "reward", value=10.0),
    Marker(1.25, "note", "héllo = world 100% : ok"),
    Marker(1.5, "block_end", "rest"),
]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Recording:
    """A 3 s recording of BrainFlow's real synthetic board, with markers."""
    folder = tmp_path_factory.mktemp("synth") / "rec"
    src = open_board("synthetic")
    src.start()
    meta = {"user": "ann", "exercise": "gauge", "model": "focus-default"}
    writer = RecordingWriter(folder, src.info, meta=meta)
    n, deadline = 0, time.monotonic() + 30
    try:
        while n < 3 * SFREQ and time.monotonic() < deadline:
            chunk = src.read()
            if chunk is None:
                time.sleep(0.05)
                continue
            writer.write_chunk(chunk)
            n += chunk.n_samples
    finally:
        src.stop()
    for m in MARKERS:
        writer.write_marker(m)
    writer.write_marker(Marker(n / SFREQ, "session_end"))
    writer.close()
    rec = open_recording(folder)
    assert rec.n_samples == n >= 3 * SFREQ
    return rec


@pytest.fixture(scope="module")
def exported(synth, tmp_path_factory) -> dict:
    """The synthetic recording exported to every file format."""
    out = tmp_path_factory.mktemp("exported")
    return {fmt: formats.export(synth, fmt, out / f"synth{formats.SUFFIX[fmt]}")
            for fmt in ("edf", "bdf", "fif", "csv")}  # fmt: skip


def _tolerance(fmt: str, data: np.ndarray) -> np.ndarray:
    """Largest error each channel may have after a round trip through ``fmt`` (µV)."""
    span = np.ptp(data, axis=1)
    if fmt == "edf":
        return span / 65534  # 16-bit, one physical range per channel: half a step, with margin
    if fmt == "bdf":
        return span / 16777214
    if fmt == "csv":
        return np.full(len(data), 5.0001e-7)  # printed with 6 decimals
    return np.abs(data).max(axis=1) * 1e-12  # FIF float64


def _same_markers(got: list[Marker], want: list[Marker], sfreq: float, duration: float) -> None:
    assert [(m.kind, m.label, m.value) for m in got] == [(m.kind, m.label, m.value) for m in want]
    last = duration - 1 / sfreq
    for g, w in zip(got, want, strict=True):
        assert abs(g.t - min(w.t, last)) <= 1 / sfreq + 1e-9


@pytest.mark.parametrize("fmt", ["edf", "bdf", "fif", "csv"])
def test_export_import_round_trip(synth, exported, fmt):
    back = formats.read_file(exported[fmt])
    assert back.info.ch_names == synth.info.ch_names
    assert back.info.sfreq == synth.info.sfreq
    assert back.data.shape == synth.data.shape
    err = np.abs(back.data - synth.data).max(axis=1)
    tol = _tolerance(fmt, synth.data)
    assert np.all(err <= tol), (err / tol).max()
    assert np.all(err < 1e-3 * np.ptp(synth.data, axis=1))  # never a unit mix-up (1e6 off)
    _same_markers(back.markers, synth.markers, synth.sfreq, synth.duration_s)
    assert back.meta["user"] == "ann"
    assert back.info.board == "synthetic"
    if fmt in ("fif", "csv"):  # µs-resolution start, exact timestamps for csv
        assert abs(back.timestamps[0] - synth.timestamps[0]) < 2e-6
        assert back.meta["exercise"] == "gauge"
    else:  # EDF headers keep the start time to the second
        assert abs(back.timestamps[0] - synth.timestamps[0]) < 1.0
    if fmt == "csv":
        assert np.abs(back.timestamps - synth.timestamps).max() <= 5.0001e-7


def test_csv_is_the_brainflow_layout(synth, exported):
    from brainflow.board_shim import BoardIds, BoardShim
    from brainflow.data_filter import DataFilter

    rows = DataFilter.read_file(str(exported["csv"]))
    board = BoardIds.SYNTHETIC_BOARD.value
    assert rows.shape == (BoardShim.get_num_rows(board), synth.n_samples)
    eeg = BoardShim.get_eeg_channels(board)
    assert np.abs(rows[eeg] - synth.data).max() <= 5.0001e-7
    assert np.abs(rows[BoardShim.get_timestamp_channel(board)] - synth.timestamps).max() < 1e-6
    marker_row = rows[BoardShim.get_marker_channel(board)]
    assert np.count_nonzero(marker_row) == len(synth.markers)
    # tab-separated, one sample per line, no header: what DataFilter.write_file writes
    first = exported["csv"].read_text().splitlines()[0].split("\t")
    assert len(first) == rows.shape[0]


def test_brainflow_playback_board_plays_the_exported_csv(synth, exported):
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

    board = BoardIds.SYNTHETIC_BOARD.value
    params = BrainFlowInputParams()
    params.file = str(exported["csv"])
    params.master_board = board
    shim = BoardShim(BoardIds.PLAYBACK_FILE_BOARD.value, params)
    shim.prepare_session()
    shim.config_board("old_timestamps")
    got = []
    try:
        shim.start_stream()
        deadline = time.monotonic() + synth.duration_s + 15
        while sum(c.shape[1] for c in got) < synth.n_samples and time.monotonic() < deadline:
            time.sleep(0.2)
            chunk = shim.get_board_data()
            if chunk.size:
                got.append(chunk)
    finally:
        shim.release_session()
    played = np.concatenate(got, axis=1)
    assert played.shape[1] == synth.n_samples
    eeg = BoardShim.get_eeg_channels(board)
    assert np.abs(played[eeg] - synth.data).max() <= 5.0001e-7
    ts = played[BoardShim.get_timestamp_channel(board)]
    assert np.abs(ts - synth.timestamps).max() <= 1e-6


def test_csv_without_sidecar_needs_the_right_board(synth, exported, tmp_path):
    bare = tmp_path / "bare.csv"
    shutil.copy(exported["csv"], bare)
    back = formats.read_file(bare)  # default board: synthetic
    assert back.info.ch_names == synth.info.ch_names
    # without the sidecar the markers come from the board's marker row: kinds, no labels
    assert [m.kind for m in back.markers] == [m.kind for m in synth.markers]
    # and the start is the board's first timestamp (Unix seconds), not the time of reading
    assert back.meta["start_unix"] == pytest.approx(float(back.timestamps[0]), abs=1e-6)
    assert back.meta["start_unix"] == pytest.approx(float(synth.timestamps[0]), abs=1e-6)
    with pytest.raises(RecordingError, match="32 columns per line but cyton files have 24"):
        formats.read_file(bare, board="cyton")
    with pytest.raises(RecordingError, match="unknown board"):
        formats.read_file(bare, board="no_such_board")


def test_a_csv_whose_clock_runs_backwards_is_refused(exported, tmp_path):
    lines = exported["csv"].read_text().splitlines()
    cells = [line.split("\t") for line in lines]
    ts_col = board_layout("synthetic").timestamp_row
    stamps = [c[ts_col] for c in cells][::-1]  # each step back by one sample: no big jump
    for c, t in zip(cells, stamps, strict=True):
        c[ts_col] = t
    bad = tmp_path / "backwards.csv"
    bad.write_text("\n".join("\t".join(c) for c in cells) + "\n")
    with pytest.raises(RecordingError, match="timestamp column runs backwards"):
        formats.read_file(bad, board="synthetic")


def test_a_damaged_sidecar_is_an_error_not_silently_ignored(exported, tmp_path):
    csv_path = tmp_path / "s.csv"
    shutil.copy(exported["csv"], csv_path)
    side = formats.sidecar_path(csv_path)
    good = json.loads(formats.sidecar_path(exported["csv"]).read_text())
    for damage in ({**good, "ch_names": good["ch_names"][:3]},  # 3 names for 16 rows
                   {**good, "ch_names": [good["ch_names"][0]] * len(good["rows"])}):
        side.write_text(json.dumps(damage))
        with pytest.raises(RecordingError, match=r"s\.neurofb\.json is damaged"):
            formats.read_file(csv_path)
    side.write_text('{"format": ')  # cut short
    with pytest.raises(RecordingError, match=r"s\.neurofb\.json is damaged"):
        formats.read_file(csv_path)
    side.write_text(json.dumps(good))
    assert list(formats.read_file(csv_path).info.ch_names) == good["ch_names"]


def test_a_cyton_recording_exports_in_the_cyton_layout(tmp_path):
    # Cyton's BrainFlow board id is 0: the export must not take it for "no board" and write
    # the synthetic board's 32-row layout, which BrainFlow and neurofb then misread.
    from brainflow.board_shim import BoardIds, BoardShim
    from brainflow.data_filter import DataFilter

    from neurofb.paths import REPO_ROOT

    gui = (REPO_ROOT.parent / "shared" / "data" / "openbci"
           / "OpenBCI_GUI-v5-blinks-jawClench-alpha.txt")
    if not gui.exists():
        pytest.skip(f"OpenBCI sample not found at {gui}")
    folder = formats.import_file(gui, tmp_path / "rec")
    rec = open_recording(folder)
    assert rec.meta["source"]["board_id"] == BoardIds.CYTON_BOARD.value == 0
    out = formats.export(rec, "csv", tmp_path / "cyton.csv")
    rows = DataFilter.read_file(str(out))
    assert rows.shape[0] == BoardShim.get_num_rows(BoardIds.CYTON_BOARD.value)
    assert json.loads(formats.sidecar_path(out).read_text())["board_id"] == 0
    package = rows[BoardShim.get_package_num_channel(BoardIds.CYTON_BOARD.value)]
    assert np.array_equal(package, np.arange(rows.shape[1]) % 256)
    formats.sidecar_path(out).unlink()  # as the OpenBCI GUI or BrainFlow's playback reads it
    back = formats.read_file(out, board="cyton")
    assert np.abs(back.data - rec.data).max() <= 5.0001e-7


def test_bids_export_states_the_mains_frequency(tmp_path):
    # BIDS's PowerLineFrequency: the recording's own setting when it had one, else what its
    # raw signal shows (the OpenBCI sample was recorded at 60 Hz mains), never a blank n/a.
    from neurofb.paths import REPO_ROOT

    gui = (REPO_ROOT.parent / "shared" / "data" / "openbci"
           / "OpenBCI_GUI-v5-blinks-jawClench-alpha.txt")
    if not gui.exists():
        pytest.skip(f"OpenBCI sample not found at {gui}")
    rec = open_recording(formats.import_file(gui, tmp_path / "rec"))

    def power_line(recording: Recording, root) -> object:
        eeg = formats.export(recording, "bids", root)
        side = json.loads(next(eeg.parent.glob("*_eeg.json")).read_text())
        return side["PowerLineFrequency"]

    assert power_line(rec, tmp_path / "detected") == 60
    import dataclasses

    set_50 = dataclasses.replace(rec, meta={**rec.meta, "config": {"line_freq": 50.0}})
    assert power_line(set_50, tmp_path / "set") == 50


def test_csv_export_of_a_file_recording_needs_a_fitting_board(eegmat_dir, tmp_path, capsys):
    rec = formats.read_file(eegmat_dir / "Subject00_1.edf")  # 20 EEG channels at 500 Hz
    with pytest.raises(RecordingError, match=r"20 channels at 500 Hz.*--board.*ob3000"):
        formats.export(rec, "csv", tmp_path / "x.csv")
    out = formats.export(rec, "csv", tmp_path / "x.csv", board="ob3000_24_channels")
    back = formats.read_file(out)
    assert back.info.ch_names == rec.info.ch_names
    assert np.abs(back.data - rec.data).max() <= 5.0001e-7
    # without its sidecar the board is guessed (and said); replay --board tells it
    from neurofb.cli import main

    formats.sidecar_path(out).unlink()
    assert main(["replay", str(out), "--seconds", "4", "--target", "engagement"]) == 0
    assert "names no board" in capsys.readouterr().err
    assert main(["replay", str(out), "--seconds", "4", "--target", "engagement", "--board",
                 "ob3000_24_channels"]) == 0
    assert "names no board" not in capsys.readouterr().err


def test_eegmat_imports_and_replays(eegmat_dir, tmp_path):
    import mne

    from neurofb.errors import EndOfStream
    from neurofb.stream.replay import ReplaySource

    path = eegmat_dir / "Subject00_2.edf"
    rec = formats.read_file(path)
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    eeg = [n for n in raw.ch_names if not n.startswith("ECG")]
    assert rec.info.ch_names == tuple(eeg) and "EEG Fp1" in eeg
    assert rec.meta["dropped_channels"] == ["ECG ECG"]
    assert np.array_equal(rec.data, raw.get_data(picks=eeg) * 1e6)
    folder = formats.import_file(path, tmp_path / "imported")
    again = open_recording(folder)
    assert np.array_equal(again.data, rec.data)
    assert again.info.ch_names == rec.info.ch_names
    source = ReplaySource(folder, speed=None, batch_s=20.0)
    source.start()
    total = 0
    with pytest.raises(EndOfStream):
        while True:
            chunk = source.read()
            assert np.array_equal(chunk.data, rec.data[:, total : total + chunk.n_samples])
            total += chunk.n_samples
    assert total == rec.n_samples


@pytest.mark.parametrize("fmt", ["edf", "fif", "csv"])
def test_import_file_makes_a_recording_and_never_overwrites(synth, exported, fmt, tmp_path):
    folder = formats.import_file(exported[fmt], tmp_path / "rec")
    rec = open_recording(folder)
    assert rec.info.ch_names == synth.info.ch_names
    assert np.all(np.abs(rec.data - synth.data).max(axis=1) <= _tolerance(fmt, synth.data))
    _same_markers(rec.markers, synth.markers, synth.sfreq, synth.duration_s)
    assert rec.meta["imported_from"] == str(exported[fmt].resolve())
    with pytest.raises(RecordingError, match="already exists"):
        formats.import_file(exported[fmt], folder)
    # an existing plain folder gets the recording inside, named after the file
    inside = formats.import_file(exported[fmt], tmp_path)
    assert inside.parent == tmp_path and inside.name == exported[fmt].name.split(".")[0]


def test_bids_export(synth, tmp_path):
    import mne_bids

    root = tmp_path / "bids"
    first = formats.export(synth, "bids", root)
    second = formats.export(synth, "bids", root)
    assert "sub-ann" in first.parts and "task-gauge" in first.name and "run-1" in first.name
    assert "run-2" in second.name
    assert (root / "dataset_description.json").is_file() and (root / "README").is_file()
    events = next(first.parent.glob("*run-1_events.tsv")).read_text().splitlines()
    types = [line.split("\t")[2] for line in events[1:]]
    assert types == [encode_marker(m) for m in synth.markers]
    bids_path = mne_bids.get_bids_path_from_fname(first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = mne_bids.read_raw_bids(bids_path, verbose="error")
    data = raw.get_data() * 1e6
    assert raw.ch_names == list(synth.info.ch_names)
    assert np.all(np.abs(data[:, : synth.n_samples] - synth.data).max(axis=1)
                  <= 2 * np.ptp(synth.data) / 65534)  # fmt: skip
    # a folder of someone's files is not a dataset to add to: refused, nothing touched
    other = tmp_path / "mine"
    other.mkdir()
    (other / "participants.tsv").write_text("junk\n")
    with pytest.raises(RecordingError, match="not a BIDS dataset"):
        formats.export(synth, "bids", other)
    assert [p.name for p in other.iterdir()] == ["participants.tsv"]
    assert (other / "participants.tsv").read_text() == "junk\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "sub-ann" in formats.export(synth, "bids", empty).parts


def test_export_refuses_to_overwrite_and_bad_targets(synth, exported, tmp_path):
    with pytest.raises(RecordingError, match="exists"):
        formats.export(synth, "edf", exported["edf"])
    formats.export(synth, "edf", exported["edf"], overwrite=True)
    with pytest.raises(RecordingError, match="does not exist"):
        formats.export(synth, "fif", tmp_path / "missing" / "x_raw.fif")
    with pytest.raises(ValueError, match="fmt must be one of"):
        formats.export(synth, "mat", tmp_path / "x.mat")
    from dataclasses import replace

    long = replace(synth, info=replace(synth.info, ch_names=tuple(
        f"{n}-a-very-long-label" for n in synth.info.ch_names)))  # fmt: skip
    with pytest.raises(RecordingError, match="16 characters"):
        formats.export(long, "edf", tmp_path / "long.edf")


def test_recording_without_a_date_keeps_relative_times(eegmat_dir, tmp_path):
    from dataclasses import replace

    full = formats.read_file(eegmat_dir / "Subject01_1.edf")
    n = 2000
    rec = replace(full, data=full.data[:, :n].copy(), timestamps=np.arange(n) / full.sfreq,
                  meta={}, markers=[Marker(1.0, "block_start", "task")])  # fmt: skip
    for fmt in ("edf", "fif"):
        back = formats.read_file(formats.export(rec, fmt, tmp_path / f"rel{formats.SUFFIX[fmt]}"))
        assert back.timestamps[0] == 0.0 and "start_unix" not in back.meta
        assert np.allclose(back.timestamps, rec.timestamps)
        assert back.markers == rec.markers


def test_marker_descriptions_round_trip():
    rng = np.random.default_rng(0)
    alphabet = list("abcXYZ019 :=%/\\@#\"'µé€\t\n✓")
    for _ in range(300):
        label = "".join(rng.choice(alphabet, size=int(rng.integers(0, 12))))
        value = None if rng.uniform() < 0.3 else float(rng.normal() * 10.0 ** rng.integers(-5, 5))
        kind = str(rng.choice(sorted(KINDS)))  # every kind the engine writes
        m = Marker(float(rng.uniform(0, 100)), kind, label, value)
        (back,) = decode_annotation(encode_marker(m), m.t, 0.0)
        assert back == m
    # annotations of other software: a note, or a block when they last
    assert decode_annotation("Stimulus/S  1", 2.0, 0.0) == [Marker(2.0, "note", "Stimulus/S  1")]
    # "x:y" is another program's text unless x is one of the engine's kinds
    for text in ("stim:face", "kind:lab=3.5", "custom_kind:x"):
        assert decode_annotation(text, 1.0, 0.0) == [Marker(1.0, "note", text)]
    assert decode_annotation("T1", 4.0, 4.1) == [
        Marker(4.0, "block_start", "T1"), Marker(8.1, "block_end", "T1")]  # fmt: skip


# -- damaged files ----------------------------------------------------------------------------


def _read_or_recording_error(path) -> Recording | None:
    """Read ``path``: a consistent Recording (damaged cells NaN), or an error naming it."""
    try:
        rec = formats.read_file(path)
    except RecordingError as err:
        assert path.name in str(err) or str(path) in str(err), str(err)
        return None
    assert rec.data.shape == (len(rec.info.ch_names), rec.timestamps.size)
    # a damaged cell is a missing sample (NaN), never an invented infinity; the clock is intact
    assert rec.data.shape[1] > 0 and not np.any(np.isinf(rec.data))
    assert np.all(np.isfinite(rec.timestamps))
    assert rec.info.sfreq > 0
    return rec


@pytest.mark.parametrize("fmt", ["edf", "bdf", "fif", "csv"])
def test_fuzzed_files_give_recording_errors(exported, fmt, tmp_path):
    rng = np.random.default_rng(["edf", "bdf", "fif", "csv"].index(fmt))
    good = exported[fmt].read_bytes()
    suffix = exported[fmt].name[len("synth"):]
    variants = {f"trunc{k}": good[: int(rng.integers(1, len(good)))] for k in range(8)}
    header = 1024 if fmt != "csv" else len(good)  # csv: anywhere
    for k in range(10):
        flipped = bytearray(good)
        for pos in rng.integers(0, header, size=int(rng.integers(1, 4))):
            flipped[pos] ^= int(rng.integers(1, 256))
        variants[f"flip{k}"] = bytes(flipped)
    variants["zeros"] = bytes(len(good))
    variants["garbage"] = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    outcomes = {}
    for name, blob in variants.items():
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(blob)
        outcomes[name] = _read_or_recording_error(path)
    assert outcomes["garbage"] is None and outcomes["zeros"] is None
    full = formats.read_file(exported[fmt]).n_samples
    for name, rec in outcomes.items():
        if name.startswith("trunc") and rec is not None:
            assert rec.n_samples <= full  # what was cut off is never invented


def test_damaged_csv_numbers_and_cut_lines(synth, exported, tmp_path):
    lines = exported["csv"].read_bytes().split(b"\n")
    path = tmp_path / "bad.csv"

    def damaged(col: int, bad: bytes) -> object:
        cells = lines[5].split(b"\t")
        cells[col] = bad
        path.write_bytes(b"\n".join([*lines[:5], b"\t".join(cells), *lines[6:]]))
        return path

    # not a number: refused, naming the file (BrainFlow's own parser aborts on such cells)
    with pytest.raises(RecordingError, match=r"bad\.csv"):
        formats.read_file(damaged(3, b"1e-400x"))
    # a sample that is NaN or out of double range (BrainFlow's parser aborts on 1e999 too) is a
    # missing sample: read as NaN, never refused (non-finite samples survive every format)
    for bad in (b"1e999", b"nan"):
        rec = formats.read_file(damaged(3, bad))
        got = np.asarray(rec.data)
        assert np.isnan(got[2, 5]) and np.isfinite(np.delete(got[2], 5)).all()
    with pytest.raises(RecordingError, match=r"bad\.csv.*timestamp"):  # a broken clock is not
        formats.read_file(damaged(30, b"nan"))
    # a last line cut by a crash is dropped, with a warning; the rest is intact
    cut = tmp_path / "cut.csv"
    body = b"\n".join(lines[:-1])  # the file ends with a newline: drop the empty tail
    cut.write_bytes(body[: body.rfind(b"\n") + 20])
    rec = formats.read_file(cut)
    assert rec.n_samples == synth.n_samples - 1
    assert np.abs(rec.data - synth.data[:, :-1]).max() <= 5.0001e-7
    assert any("incomplete" in w for w in rec.warnings)


@pytest.mark.parametrize("suffix", [".edf", ".bdf", "_raw.fif", ".csv", ".dat"])
def test_empty_files_are_named_as_empty(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(RecordingError, match="is empty"):
        formats.read_file(path)


def test_wrong_extensions(exported, tmp_path):
    edf_as_fif = tmp_path / "really_edf_raw.fif"
    shutil.copy(exported["edf"], edf_as_fif)
    rec = formats.read_file(edf_as_fif)
    assert rec.meta["source_format"] == "edf" and "despite its extension" in rec.warnings[0]
    csv_as_edf = tmp_path / "really_csv.edf"
    shutil.copy(exported["csv"], csv_as_edf)
    assert formats.read_file(csv_as_edf).meta["source_format"] == "csv"
    text = tmp_path / "notes.edf"
    text.write_text("just some notes, not EEG\n")
    with pytest.raises(RecordingError, match="not a readable EDF"):
        formats.read_file(text)
    unknown = tmp_path / "notes.xyz"
    unknown.write_text("just some notes\n")
    with pytest.raises(RecordingError, match="no format neurofb reads"):
        formats.read_file(unknown)
    with pytest.raises(RecordingError, match="does not exist"):
        formats.read_file(tmp_path / "missing.edf")
    with pytest.raises(RecordingError, match="is a folder"):
        formats.read_file(tmp_path)


def test_file_without_eeg_channels(tmp_path):
    import mne

    info = mne.create_info(["ECG", "EOG left", "ECG1", "EMG2", "EEG EKG1-REF"], 100.0, "eeg")
    raw = mne.io.RawArray(np.random.default_rng(1).normal(size=(5, 500)) * 1e-5, info,
                          verbose="error")  # fmt: skip
    path = tmp_path / "no_eeg.edf"
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    with pytest.raises(RecordingError, match=r"holds no EEG channel.*ECG, EOG left, ECG1, EMG2, "
                                             r"EEG EKG1-REF"):
        formats.read_file(path)


def test_an_edf_with_latin1_annotations_reads_and_says_so(tmp_path):
    """EDF+ from older software may carry 8-bit annotations (é as byte 0xE9): read as Latin-1,
    with a note — not refused with MNE's advice to set an encoding the user cannot set."""
    import mne

    info = mne.create_info(["Fz", "Cz", "Pz"], 250.0, "eeg")
    raw = mne.io.RawArray(np.random.default_rng(0).normal(0, 1e-5, (3, 2500)), info,
                          verbose="error")
    raw.set_annotations(mne.Annotations([1.0], [0.0], ["rest zzz"]))
    path = tmp_path / "latin1.edf"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    blob = bytearray(path.read_bytes())
    blob[blob.find(b"rest zzz") + 5] = 0xE9
    path.write_bytes(bytes(blob))
    rec = formats.read_file(path)
    assert [m.label for m in rec.markers] == ["rest \u00e9zz"]
    assert any("not UTF-8: read as Latin-1" in w for w in rec.warnings)


def test_the_demos_credit_travels_with_its_exports_and_imports(tmp_path, capsys):
    """recordings/README.md: keep eegmat's attribution with any copy. FIF, BrainFlow CSV and
    BIDS carry it (and import it back); EDF/BDF headers have no room for it (docs say so)."""
    import json

    from safety_helpers import DEMO, cli

    demo = open_recording(DEMO).meta
    for fmt, out, extra in (("fif", tmp_path / "d.fif", ()),
                            ("csv", tmp_path / "d.csv", ("--board", "explore_plus_32_chan"))):
        code, _, err = cli(capsys, "export", DEMO, "--to", fmt, "--out", out, *extra)
        assert code == 0, err
        assert cli(capsys, "import", out, "--out", tmp_path / f"imp-{fmt}", "--no-index")[0] == 0
        back = open_recording(tmp_path / f"imp-{fmt}").meta
        assert back["attribution"] == demo["attribution"] and "Zyma" in back["attribution"]
        assert back["licence"] == demo["licence"] == "ODC-By-1.0"
    assert cli(capsys, "export", DEMO, "--to", "bids", "--out", tmp_path / "bids")[0] == 0
    desc = json.loads((tmp_path / "bids" / "dataset_description.json").read_text())
    assert desc["License"] == "ODC-By-1.0" and "Zyma" in desc["HowToAcknowledge"]


@pytest.mark.parametrize("fmt", ["edf", "bdf"])
def test_a_non_integer_rate_exports_to_edf_and_bdf_and_comes_back(fmt, tmp_path, caplog):
    """256.41 Hz (a FIF from another amplifier): EDF's records hold 256 samples each, so the
    last one is padded under BAD_ACQ_SKIP, which import drops again; a marker outside the
    samples is written at the edge, and the export says so (one at the data's end, where
    session_end is stamped, goes on the last sample unsaid)."""
    import logging

    from neurofb.types import SourceInfo

    sfreq, n = 256.41, 1000  # 1000 samples: not a whole number of 256-sample records
    data = np.random.default_rng(7).standard_normal((3, n)) * 20.0
    rec = Recording(info=SourceInfo(("Fz", "Cz", "Pz"), sfreq, "amp", live=False),
                    meta={"start_unix": 1.7e9}, data=data, timestamps=np.arange(n) / sfreq,
                    markers=[Marker(1.0, "note", "inside"), Marker(-0.5, "note", "before"),
                             Marker(n / sfreq, "note", "end")])  # where session_end is stamped
    with caplog.at_level(logging.WARNING, logger="neurofb.recording.mne_files"):
        out = formats.export(rec, fmt, tmp_path / f"odd.{fmt}")
    assert "1 marker(s) outside the recorded samples (the first: note at -0.500 s" in caplog.text
    back = formats.read_file(out)
    assert back.n_samples == n and back.info.sfreq == pytest.approx(sfreq, rel=1e-6)
    step = (data.max(axis=1) - data.min(axis=1)).max() / (65534 if fmt == "edf" else 16777214)
    assert np.abs(back.data - data).max() <= step
    assert [(m.label, round(m.t, 3)) for m in back.markers] == [
        ("before", 0.0), ("inside", 1.0), ("end", round((n - 1) / sfreq, 3))]
    if fmt == "edf":  # a BIDS dataset holds its EEG as EDF
        eeg = formats.export(rec, "bids", tmp_path / "bids")
        assert formats.read_file(eeg).n_samples == n


def test_the_users_notes_and_target_travel_with_a_fif_export(tmp_path):
    from neurofb.types import SourceInfo

    data = np.random.default_rng(3).standard_normal((3, 2500)) * 20.0
    meta = {"start_unix": 1.7e9, "notes": "subject tired; O2 re-gelled", "target": "engagement",
            "exercise": "gauge"}
    rec = Recording(info=SourceInfo(("Fz", "Cz", "Pz"), 250.0, "amp", live=False), meta=meta,
                    data=data, timestamps=np.arange(2500) / 250.0, markers=[])
    back = formats.read_file(formats.export(rec, "fif", tmp_path / "n_raw.fif")).meta
    assert {k: back.get(k) for k in ("notes", "target", "exercise")} == {
        k: meta[k] for k in ("notes", "target", "exercise")}


def test_an_export_never_lands_on_a_file_that_appeared_meanwhile(tmp_path, monkeypatch):
    """Two exports to one new path at once: both checked the path free, and the later one
    replaced the other's file, both saying "wrote". The file appearing while this export writes
    (the other export finishing first; made to happen here by wrapping the real EDF writer) is
    now refused and kept; with --force it is replaced. A killed export's stage is cleaned."""
    import neurofb.recording.formats as fmts
    from neurofb.types import SourceInfo

    rec = Recording(info=SourceInfo(("Fz", "Cz", "Pz"), 250.0, "amp", live=False),
                    meta={"start_unix": 1.7e9}, data=np.random.default_rng(2).standard_normal(
                        (3, 2500)) * 20.0, timestamps=np.arange(2500) / 250.0, markers=[])
    out = tmp_path / "out.edf"
    dead = tmp_path / ".out.edf.partial-999999999"  # left by an export killed mid-way
    dead.mkdir()
    real = fmts.write_edf

    def then_another_export_finishes(recording, part, *, fmt="edf"):
        written = real(recording, part, fmt=fmt)
        out.write_bytes(b"the other export's file")
        return written

    monkeypatch.setattr(fmts, "write_edf", then_another_export_finishes)
    with pytest.raises(RecordingError, match="appeared while this export was written"):
        formats.export(rec, "edf", out)
    assert out.read_bytes() == b"the other export's file" and not dead.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.edf"]  # no stage left
    formats.export(rec, "edf", out, overwrite=True)
    assert formats.read_file(out).n_samples == 2500
