"""The neurofb recording folder: bit-exact round trip from the synthetic board, markers and
trace, never overwriting, interrupted recordings, and fuzzed damage (truncation, corrupt
meta.json, empty files, garbage marker lines) giving either a readable recording or a clear
RecordingError — never another exception."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from neurofb.errors import RecordingError
from neurofb.library import Recovery, SessionLibrary, recover_interrupted
from neurofb.recording import (
    Recording,
    RecordingWriter,
    finalise_interrupted,
    find_interrupted,
    new_recording_path,
    open_recording,
    read_meta,
)
from neurofb.recording.trace import COLUMNS
from neurofb.stream.brainflow import open_board
from neurofb.stream.runner import StreamRunner
from neurofb.types import Chunk, Marker, SourceInfo, Update


class _Drain:
    """The pipeline slot of a runner when only chunks matter (the recording takes chunks)."""

    def process(self, chunk: Chunk) -> list[Update]:
        return []


def _record_synthetic(
    path: Path, seconds: float, **writer_kw
) -> tuple[list[Chunk], RecordingWriter]:
    """Stream the real synthetic board through a runner into a writer; keep every chunk too."""
    source = open_board("synthetic")
    writer = RecordingWriter(path, source.info, meta={"user": "tester"}, **writer_kw)
    kept: list[Chunk] = []
    runner = StreamRunner(source, _Drain())
    runner.add_chunk_listener(writer.write_chunk)
    runner.add_chunk_listener(kept.append)
    runner.add_marker_listener(writer.write_marker)
    runner.start()
    runner.mark("session_start", "test")
    deadline = time.monotonic() + 30
    while runner.t < seconds and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.mark("note", "halfway, with a comma, and \"quotes\"", 1.5)
    runner.stop()
    return kept, writer


def _update(t: float, focus: float | None, reason: str = "") -> Update:
    return Update(
        t=t, focus=focus, raw_focus=focus, quality=0.9 if focus is not None else 0.1,
        reason=reason, channel_quality=(0.9,), channel_reasons=("",), attention=None,
        rel_power=((0.1,),), latency_s=0.012, sample_index=int(t * 250),
    )


@pytest.fixture(scope="module")
def synthetic_recording(tmp_path_factory) -> tuple[Path, list[Chunk]]:
    path = tmp_path_factory.mktemp("rec") / "synthetic"
    kept, writer = _record_synthetic(path, 1.5)
    for k in range(6):
        writer.write_update(_update(0.25 * k, None if k % 3 == 0 else 0.1 * k, "flat: Fz"))
    writer.close(summary={"mean_focus": 0.3})
    return path, kept


def test_synthetic_board_round_trip_is_bit_exact(synthetic_recording):
    path, kept = synthetic_recording
    rec = open_recording(path)
    assert isinstance(rec, Recording)
    board = np.concatenate([c.data for c in kept], axis=1)
    stamps = np.concatenate([c.timestamps for c in kept])
    assert board.shape[1] > 0
    assert rec.data.dtype == np.float64 and rec.data.shape == board.shape
    assert np.array_equal(rec.data, board)
    assert np.array_equal(rec.timestamps, stamps)
    assert rec.info.ch_names == kept[0].ch_names and rec.info.sfreq == kept[0].sfreq
    assert rec.info.live is False
    assert rec.warnings == []


def test_meta_markers_and_trace_come_back(synthetic_recording):
    path, kept = synthetic_recording
    rec = open_recording(path / "meta.json")
    meta = rec.meta
    assert meta["complete"] is True and meta["interrupted"] is False
    assert meta["n_samples"] == rec.n_samples == sum(c.n_samples for c in kept)
    assert meta["user"] == "tester" and meta["board"] == "synthetic" and meta["unit"] == "uV"
    assert meta["summary"] == {"mean_focus": 0.3}
    assert meta["software"]["numpy"] == np.__version__
    assert meta["columns"][0] == "timestamp" and meta["columns"][1:] == list(rec.ch_names)
    assert rec.duration_s == pytest.approx(rec.n_samples / rec.sfreq)
    assert not (path / ".open").exists()
    kinds = [m.kind for m in rec.markers]
    assert kinds == ["session_start", "note"]
    note = 'halfway, with a comma, and "quotes"'
    assert rec.markers[1] == Marker(rec.markers[1].t, "note", note, 1.5)
    focus = [r["focus"] for r in rec.trace]
    assert focus == ["", "0.100000", "0.200000", "", "0.400000", "0.500000"]
    assert set(rec.trace[0]) == set(COLUMNS) and rec.trace[0]["reason"] == "flat: Fz"


def test_float32_recording_keeps_float32_precision(tmp_path):
    info = SourceInfo(("Fz", "Cz"), 250.0, "test")
    rng = np.random.default_rng(0)
    data = rng.normal(0, 20, (2, 1000))
    stamps = 1.7e9 + np.arange(1000) / 250.0
    with RecordingWriter(tmp_path / "r", info, dtype="float32") as w:
        for a in range(0, 1000, 100):
            w.write_chunk(Chunk(data[:, a:a + 100], stamps[a:a + 100], info.ch_names, 250.0))
    rec = open_recording(tmp_path / "r")
    assert rec.meta["dtype"] == "float32"
    assert (tmp_path / "r" / "eeg.bin").stat().st_size == 1000 * 3 * 4
    assert np.array_equal(rec.data, data.astype(np.float32).astype(np.float64))
    # timestamps are stored relative to the first one, so float32 keeps sub-millisecond time
    assert np.max(np.abs(rec.timestamps - stamps)) < 1e-5


def test_never_overwrites_and_bad_arguments(tmp_path):
    info = SourceInfo(("Fz",), 250.0, "test")
    (tmp_path / "taken").mkdir()
    with pytest.raises(RecordingError, match="never overwrites"):
        RecordingWriter(tmp_path / "taken", info)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RecordingError, match="cannot create recording folder"):
        RecordingWriter(tmp_path / "file" / "rec", info)
    with pytest.raises(ValueError, match="dtype"):
        RecordingWriter(tmp_path / "a", info, dtype="int16")
    with pytest.raises(ValueError, match="writer owns"):
        RecordingWriter(tmp_path / "b", info, meta={"sfreq": 1})
    with RecordingWriter(tmp_path / "c", info) as w:
        with pytest.raises(ValueError, match="channels"):
            w.write_chunk(Chunk(np.zeros((2, 3)), np.zeros(3), ("a", "b"), 250.0))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_new_recording_path_is_fresh_and_under_the_data_dir(_private_home):
    first = new_recording_path(label="muse s/2")
    assert first.parent == _private_home / "recordings"
    assert first.name.endswith("-muse_s_2") and not first.exists()
    RecordingWriter(first, SourceInfo(("Fz",), 250.0, "x")).close()
    second = new_recording_path(label="muse s/2")
    assert second != first and not second.exists()


def test_a_picked_name_taken_meanwhile_gives_the_next_free_name(tmp_path):
    # Two recordings (or imports) started in the same second pick the same name; the one
    # that comes second must take the next free name, not fail, and touch nothing of the other.
    info = SourceInfo(("Fz",), 250.0, "test")
    picked = tmp_path / "20261201-101010-synthetic"
    first = RecordingWriter(picked, info, unique=True)
    second = RecordingWriter(picked, info, unique=True)
    (tmp_path / "20261201-101010-synthetic-3").mkdir()  # taken by someone else
    third = RecordingWriter(picked, info, unique=True)
    for w, value in ((first, 1.0), (second, 2.0), (third, 3.0)):
        w.write_chunk(Chunk(np.full((1, 10), value), np.arange(10) / 250.0, ("Fz",), 250.0))
        w.close()
    assert [w.path.name[-2:] for w in (first, second, third)] == ["ic", "-2", "-4"]
    assert [open_recording(w.path).data[0, 0] for w in (first, second, third)] == [1, 2, 3]
    assert list((tmp_path / "20261201-101010-synthetic-3").iterdir()) == []
    with pytest.raises(RecordingError, match="never overwrites"):  # a name the user gave
        RecordingWriter(picked, info)


def test_imports_started_together_each_get_their_own_recording(synthetic_recording, tmp_path):
    # Real concurrent imports of one file into one folder, without --out: the same second,
    # the same name picked by each; every import must land, complete, in a folder of its own.
    from concurrent.futures import ThreadPoolExecutor

    from neurofb.recording.formats import export, import_file

    path, _ = synthetic_recording
    source = export(open_recording(path), "fif", tmp_path / "take.fif")
    root = tmp_path / "recordings"
    with ThreadPoolExecutor(4) as pool:
        folders = list(pool.map(lambda _: import_file(source, root=root), range(4)))
    assert len(set(folders)) == 4 and {f.parent for f in folders} == {root}
    assert sorted(p.name for p in root.iterdir()) == sorted(f.name for f in folders)
    want = open_recording(path).data
    for folder in folders:
        rec = open_recording(folder)
        assert rec.meta["complete"] and np.allclose(rec.data, want, atol=1e-4)


def test_interrupted_copy_is_found_finalised_and_readable(tmp_path, synthetic_recording):
    # A copy of a folder taken while it is written is what a crash leaves behind.
    info = SourceInfo(("Fz", "Cz"), 250.0, "test")
    root = tmp_path / "recordings"
    replay_note = "practised on a replay of demo-eegmat, not on a live headset"
    live = RecordingWriter(root / "live", info, flush_interval_s=0.1,
                           meta={"notes": replay_note})
    rows = np.arange(2 * 500, dtype=float).reshape(2, 500)
    live.write_chunk(Chunk(rows, np.arange(500) / 250.0, info.ch_names, 250.0))
    live.write_marker(Marker(0.5, "block_start", "rest"))
    live.write_marker(Marker(0.75, "note", "eyes itchy"))
    live.write_update(_update(1.0, 0.5))
    live.flush()
    shutil.copytree(root / "live", root / "crashed")
    with open(root / "crashed" / "eeg.bin", "ab") as fh:  # a row torn by the crash
        fh.write(b"\x01" * 7)
    assert find_interrupted(root) == [root / "crashed"]  # the live one is still being written
    rec = open_recording(root / "crashed")
    assert rec.n_samples == 500 and any("partial row" in w for w in rec.warnings)
    library = tmp_path / "sessions.sqlite3"
    recovery = recover_interrupted(recordings=root, library_path=library)
    assert recovery.finalised == (root / "crashed",) and recovery.problems == ()
    meta = read_meta(root / "crashed")
    assert meta["interrupted"] is True and meta["complete"] is True and meta["n_samples"] == 500
    assert meta["duration_s"] == pytest.approx(2.0)
    assert meta["summary"]["mean_focus"] == pytest.approx(0.5)
    assert not (root / "crashed" / ".open").exists()
    assert (root / "crashed" / "eeg.bin").stat().st_size == 500 * 3 * 8
    again = open_recording(root / "crashed")
    assert np.array_equal(again.data, rows) and again.warnings == []
    assert again.markers == [Marker(0.5, "block_start", "rest"), Marker(0.75, "note", "eyes itchy")]
    with SessionLibrary(library) as lib:
        [row] = lib.list_sessions()
    assert row.recording_path == str((root / "crashed").resolve())
    # what the session said of itself survives the crash, beside what the crash did
    assert row.notes == ("interrupted: recovered after the program stopped; "
                         f"{replay_note}; eyes itchy")
    assert row.mean_focus == pytest.approx(0.5)
    assert find_interrupted(root) == []
    assert recover_interrupted(recordings=root, library_path=library) == Recovery()
    live.close()
    assert read_meta(root / "live")["interrupted"] is False


# ------------------------------------------------------------------------------------------
# Fuzz: damaged folders give a readable recording or a clear RecordingError, nothing else.


def _read_or_error(path: Path) -> Recording | RecordingError:
    try:
        return open_recording(path)
    except RecordingError as err:
        assert str(err), "RecordingError without a message"
        return err


@pytest.fixture
def small(tmp_path) -> tuple[Path, np.ndarray, np.ndarray]:
    info = SourceInfo(("Fp1", "Fp2", "Cz"), 200.0, "test")
    rng = np.random.default_rng(42)
    data = rng.normal(0, 30, (3, 400))
    stamps = 1.7e9 + np.arange(400) / 200.0
    path = tmp_path / "small"
    with RecordingWriter(path, info) as w:
        w.write_chunk(Chunk(data, stamps, info.ch_names, 200.0))
        w.write_marker(Marker(0.1, "block_start", "rest"))
        w.write_marker(Marker(1.9, "block_end", "rest"))
    return path, data, stamps


def test_fuzz_truncated_eeg_bin(small):
    path, data, stamps = small
    original = (path / "eeg.bin").read_bytes()
    row = 4 * 8
    rng = np.random.default_rng(1)
    for cut in [0, 1, row - 1, row, row + 1, *rng.integers(0, len(original), 25)]:
        (path / "eeg.bin").write_bytes(original[:cut])
        got = _read_or_error(path)
        n = int(cut) // row
        if n == 0:
            assert isinstance(got, RecordingError) and "eeg.bin" in str(got)
            continue
        assert isinstance(got, Recording), got
        assert np.array_equal(got.data, data[:, :n]) and np.array_equal(got.timestamps, stamps[:n])
        assert any("truncated" in w for w in got.warnings)


def test_fuzz_random_bytes_in_eeg_bin(small):
    path, _, _ = small
    original = bytearray((path / "eeg.bin").read_bytes())
    rng = np.random.default_rng(2)
    for _ in range(30):
        damaged = bytearray(original)
        for pos in rng.integers(0, len(damaged), rng.integers(1, 40)):
            damaged[pos] = int(rng.integers(0, 256))
        (path / "eeg.bin").write_bytes(bytes(damaged[: rng.integers(1, len(damaged) + 1)]))
        _read_or_error(path)


def test_fuzz_corrupt_meta_json(small):
    path, _, _ = small
    good = json.loads((path / "meta.json").read_text())
    rng = np.random.default_rng(3)
    text = (path / "meta.json").read_bytes()
    cases: list[bytes] = [b"", b"   ", b"null", b"[]", b"42", b'"x"', b"{", b"[" * 5000]
    cases += [
        bytes(rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8)) for _ in range(15)
    ]
    cases += [text[: int(rng.integers(1, len(text)))] for _ in range(10)]
    for raw in cases:
        (path / "meta.json").write_bytes(raw)
        got = _read_or_error(path)
        assert isinstance(got, RecordingError) and "meta.json" in str(got)

    required = ["format", "format_version", "ch_names", "sfreq", "dtype"]
    wrong = {
        "format": ["edf", 1], "format_version": ["1", 0, 2.5, True, 99], "ch_names": [[], "Fp1",
        [1, 2, 3], ["Fp1", ""]], "sfreq": ["200", 0, -1, None, float("nan")], "dtype": ["int16", 8],
        "unit": ["V", 1], "board": [7], "timestamp_offset": ["0"], "n_samples": [-1, "400", 1.5],
    }
    for key in required:
        meta = {k: v for k, v in good.items() if k != key}
        (path / "meta.json").write_text(json.dumps(meta))
        got = _read_or_error(path)
        assert isinstance(got, RecordingError) and key in str(got)
    for key, values in wrong.items():
        for value in values:
            (path / "meta.json").write_text(json.dumps({**good, key: value}))
            got = _read_or_error(path)
            assert isinstance(got, RecordingError), (key, value)
            assert key in str(got) or "version 99" in str(got), (key, value, str(got))


def test_fuzz_channel_count_that_does_not_fit_the_data(small):
    path, _, _ = small
    good = json.loads((path / "meta.json").read_text())
    for names in (["Fp1", "Fp2"], ["Fp1"], ["Fp1", "Fp2", "Cz", "Pz"], list("abcdefgh")):
        (path / "meta.json").write_text(json.dumps({**good, "ch_names": names}))
        got = _read_or_error(path)
        assert isinstance(got, RecordingError), names
        assert "meta.json" in str(got) or "timestamp" in str(got)
        # the same without n_samples (an interrupted recording): the clock check catches it
        meta = {k: v for k, v in good.items() if k != "n_samples"}
        (path / "meta.json").write_text(json.dumps({**meta, "ch_names": names}))
        got = _read_or_error(path)
        if isinstance(got, Recording):  # only if the rows happen to line up as a clock
            assert got.data.shape[0] == len(names)


def test_fuzz_empty_files_and_missing_files(small):
    path, data, _ = small
    for name in ("markers.jsonl", "trace.csv"):
        (path / name).write_bytes(b"")
    rec = open_recording(path)
    assert rec.markers == [] and rec.trace == [] and np.array_equal(rec.data, data)
    (path / "markers.jsonl").unlink()
    (path / "trace.csv").unlink()
    assert open_recording(path).markers == []
    (path / "eeg.bin").write_bytes(b"")
    with pytest.raises(RecordingError, match="empty"):
        open_recording(path)
    (path / "eeg.bin").unlink()
    with pytest.raises(RecordingError, match=r"no eeg\.bin"):
        open_recording(path)
    (path / "meta.json").unlink()
    with pytest.raises(RecordingError, match="not a neurofb recording"):
        open_recording(path)
    with pytest.raises(RecordingError, match="does not exist"):
        open_recording(path / "nowhere")


def test_fuzz_garbage_marker_and_trace_lines(small):
    path, data, _ = small
    good = (path / "markers.jsonl").read_bytes().splitlines()
    rng = np.random.default_rng(4)
    junk = [b"{", b"[1,2]", b'{"t": "soon", "kind": "note"}', b'{"t": 1}', b'{"t": 1, "kind": ""}',
            b'{"t": NaN, "kind": "x"}', b'{"t": 1, "kind": "x", "value": "big"}', b"\xff\xfe\x00",
            bytes(rng.integers(0, 256, 50, dtype=np.uint8)).replace(b"\n", b"")]
    lines = [good[0], *junk, good[1], b'{"t": 2.5, "kind": "reward"']  # last line torn
    (path / "markers.jsonl").write_bytes(b"\n".join(lines))
    trace = ",".join(COLUMNS) + "\n1.0,0.5,0.5,0.9,,1.0\n2.0,0.6\n\x00\xff,,\n3.0,0.7,0.7,0.9,,1.0"
    (path / "trace.csv").write_bytes(trace.encode("latin-1"))
    rec = open_recording(path)
    assert [m.kind for m in rec.markers] == ["block_start", "block_end"]
    assert sum("markers.jsonl line" in w for w in rec.warnings) == len(junk) + 1
    assert [r["t"] for r in rec.trace] == ["1.0", "3.0"]
    assert np.array_equal(rec.data, data)


def test_finalise_interrupted_rejects_damaged_meta(small):
    path, _, _ = small
    (path / ".open").write_text(json.dumps({"pid": 2**22 + 7, "host": os.uname().nodename}))
    assert find_interrupted(path.parent) == [path]
    (path / "meta.json").write_text("{broken")
    with pytest.raises(RecordingError, match=r"meta\.json"):
        finalise_interrupted(path)
    recovery = recover_interrupted(recordings=path.parent, library_path=path.parent / "x.db")
    assert recovery.finalised == () and "meta.json" in recovery.problems[0]  # left alone


def test_recovery_finalises_crashed_recordings_at_every_level_and_leaves_live_ones(tmp_path):
    info = SourceInfo(("Fz",), 250.0, "test")
    root = tmp_path / "recordings"
    old = RecordingWriter(root / "old", info)
    old.write_chunk(Chunk(np.ones((1, 250)), np.arange(250) / 250.0, ("Fz",), 250.0))
    old.flush()
    shutil.copytree(root / "old", root / "crashed")  # what kill -9 leaves
    nested = root / "deeper" / "crashed"
    shutil.copytree(root / "crashed", nested)
    assert find_interrupted(root) == [root / "crashed", nested]
    assert find_interrupted(root, recursive=False) == [root / "crashed"]
    recovery = recover_interrupted(recordings=root, library_path=tmp_path / "s.db")
    assert recovery.finalised == (root / "crashed", nested)
    for folder in recovery.finalised:
        meta = read_meta(folder)
        assert meta["interrupted"] is True and meta["n_samples"] == 250
        assert not (folder / ".open").exists()
    assert (root / "old" / ".open").exists()  # still being written: not touched
    assert find_interrupted(root) == []
    old.close()
    assert read_meta(root / "old")["interrupted"] is False


def test_a_crashed_practice_session_is_summarised_like_the_app_summarises_it(tmp_path):
    # The app's summary covers the exercise, not the rest baseline before it; a session whose
    # program died (no stored summary) must get the same figures from its trace, and say it
    # was interrupted — the rest's rows (high focus, no threshold) must not count.
    from neurofb.library.recovery import recover_interrupted
    from neurofb.library.summary import summarise_folder

    info = SourceInfo(("Fz",), 250.0, "test")
    root = tmp_path / "recordings"
    live = RecordingWriter(root / "live", info, meta={"exercise": "gauge", "user": "ann"},
                           flush_interval_s=0.1)
    live.write_chunk(Chunk(np.zeros((1, 20 * 250)), np.arange(20 * 250) / 250.0, ("Fz",), 250))
    for m in (Marker(0.0, "block_start", "baseline-rest"), Marker(10.0, "block_end",
              "baseline-rest"), Marker(10.0, "threshold", value=0.5),
              Marker(10.0, "block_start", "gauge"), Marker(14.0, "reward", value=10.0)):
        live.write_marker(m)
    for k in range(80):  # rest at focus 0.9 (0-10 s), then the exercise at 0.2 and 0.6
        t = 0.25 * k
        live.write_update(_update(t, 0.9 if t < 10 else (0.2 if t < 15 else 0.6)))
    live.flush()
    shutil.copytree(root / "live", root / "crashed")  # what a crash leaves behind
    live.close()
    shutil.rmtree(root / "live")
    lib = tmp_path / "library.sqlite3"
    assert not recover_interrupted(recordings=root, library_path=lib).problems
    assert read_meta(root / "crashed")["interrupted"] is True
    summary, _ = summarise_folder(root / "crashed")  # what the recovery stored
    assert summary.duration_s == pytest.approx(10.0)
    assert summary.mean_focus == pytest.approx(0.4)  # 20 rows of 0.2, 20 of 0.6: no rest
    assert summary.fraction_above == pytest.approx(0.5) and summary.rewards == 1
    assert "interrupted" in summary.notes
    assert summary.block_focus == {"gauge": pytest.approx(0.4)}
    with SessionLibrary(lib) as library:  # the history row the user sees
        (row,) = library.list_sessions()
    assert (row.duration_s, row.mean_focus) == (pytest.approx(10.0), pytest.approx(0.4))


def test_an_interrupted_recording_without_a_sample_is_removed_not_kept(tmp_path):
    """Killed after its folder was set up but before its first sample: recovery removes it
    (and says so) instead of keeping an empty recording the library cannot index."""
    info = SourceInfo(("Fz", "Cz"), 250.0, "test")
    root = tmp_path / "recordings"
    live = RecordingWriter(root / "live", info)
    live.flush()
    shutil.copytree(root / "live", root / "empty")  # what kill -9 leaves
    (root / "kept").mkdir()
    shutil.copytree(root / "live", root / "kept" / "busy")
    (root / "kept" / "busy" / "notes.txt").write_text("the user's own file")
    live.close()
    recovery = recover_interrupted(recordings=root, library_path=tmp_path / "s.sqlite3")
    assert recovery.finalised == ()
    assert not (root / "empty").exists()
    assert any(f"removed {root / 'empty'}" in p for p in recovery.problems)
    # a folder holding anything else is emptied of the writer's files only, and kept
    assert [p.name for p in (root / "kept" / "busy").iterdir()] == ["notes.txt"]
    assert any("holds other files" in p for p in recovery.problems)
    assert find_interrupted(root) == []


def test_a_recording_that_cannot_start_leaves_no_recovery_note(tmp_path, monkeypatch):
    from neurofb.library import elsewhere
    from neurofb.stream.recorder import StreamRecorder

    monkeypatch.setenv("NEUROFB_HOME", str(tmp_path / "home"))
    taken = tmp_path / "outside" / "taken"
    taken.mkdir(parents=True)
    with pytest.raises(RecordingError, match="already exists"):
        StreamRecorder(SourceInfo(("Fz", "Cz"), 250.0, "test"), path=taken)
    assert not any((tmp_path / "home" / "recordings").rglob("*.json"))  # no note left over
    assert elsewhere.noted() == []
    # refused because another recorder writes there: that one's note stays (its crash must be
    # recovered), where the refused one removed it
    info, there = SourceInfo(("Fz", "Cz"), 250.0, "test"), tmp_path / "outside" / "live"
    live = StreamRecorder(info, path=there)
    with pytest.raises(RecordingError, match="already exists"):
        StreamRecorder(info, path=there)
    assert [p.name for p in elsewhere.noted()] != []
    live.finish()
    assert elsewhere.noted() == []


def test_reindex_leaves_a_recording_being_written_to_its_writer(tmp_path):
    """`sessions --reindex` while a recording is written summarised the part written so far
    (as "interrupted"), and its row could land after the one the writer adds at close and stay
    wrong. A recording being written is now left to its writer; once closed, it is indexed."""
    info = SourceInfo(("Fz", "Cz", "Pz"), 250.0, "synthetic")
    root = tmp_path / "recordings"
    writer = RecordingWriter(root / "live", info)
    writer.write_chunk(Chunk(np.ones((3, 500)), np.arange(500) / 250.0, info.ch_names, 250.0))
    writer.flush()
    with SessionLibrary(tmp_path / "s.sqlite3") as lib:
        result = lib.reindex(root)
        assert (result.indexed, result.live) == (0, 1) and lib.list_sessions() == []
        writer.close()
        result = lib.reindex(root)
        assert (result.indexed, result.live) == (1, 0)
        (row,) = lib.list_sessions()
    assert "interrupted" not in row.notes and row.duration_s == pytest.approx(2.0)


def test_an_import_cut_short_is_removed_not_recovered_as_a_session(tmp_path):
    """A killed `neurofb import` was finalised and indexed as an "interrupted" session of its
    first minutes, without its markers (written at the end). A copy cut short is no recording:
    recovery removes it and says to import the file again (the file is still there)."""
    info = SourceInfo(("Fz", "Cz"), 250.0, "test")
    root = tmp_path / "recordings"
    importing = RecordingWriter(root / "importing", info,
                                meta={"imported_from": "/data/long.edf"})
    importing.write_chunk(Chunk(np.ones((2, 500)), np.arange(500) / 250.0, info.ch_names, 250.0))
    importing.flush()
    shutil.copytree(root / "importing", root / "killed")  # what a kill -9 leaves
    importing.close()
    library = tmp_path / "sessions.sqlite3"
    recovery = recover_interrupted(recordings=root, library_path=library)
    assert recovery.finalised == () and not (root / "killed").exists()
    assert recovery.problems == (f"removed {root / 'killed'}: its import of /data/long.edf was "
                                 "stopped before the end; import the file again",)
    with SessionLibrary(library) as lib:
        assert lib.list_sessions() == []
