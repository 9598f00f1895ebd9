"""`neurofb sessions`, `neurofb export`, `neurofb import` and reindexing from real recordings."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from neurofb.cli import main
from neurofb.library.index import SessionLibrary, SessionSummary, default_path, summarise_recording
from neurofb.library.summary import summarise_trace
from neurofb.recording import RecordingWriter, finalise_interrupted, open_recording
from neurofb.stream.brainflow import open_board
from neurofb.types import Chunk, Marker, Update


@pytest.fixture(scope="module")
def board_chunk() -> Chunk:
    """About one second of BrainFlow's real synthetic board."""
    src = open_board("synthetic")
    src.start()
    parts, n, deadline = [], 0, time.monotonic() + 30
    try:
        while n < 250 and time.monotonic() < deadline:
            chunk = src.read()
            if chunk is None:
                time.sleep(0.05)
                continue
            parts.append(chunk)
            n += chunk.n_samples
    finally:
        src.stop()
    first = parts[0]
    return Chunk(
        data=np.concatenate([c.data for c in parts], axis=1),
        timestamps=np.concatenate([c.timestamps for c in parts]),
        ch_names=first.ch_names, sfreq=first.sfreq, board=first.board,
    )  # fmt: skip


def _write_session(writer: RecordingWriter, chunk: Chunk, rng, n_updates: int = 40) -> None:
    """Samples, a focus trace with a threshold and some rewards, and block markers (the
    board's second of samples repeated to cover the trace: a window ends on a sample)."""
    span = chunk.n_samples / chunk.sfreq
    for k in range(math.ceil(0.25 * n_updates / span) + 1):
        writer.write_chunk(dataclasses.replace(chunk, timestamps=chunk.timestamps + k * span))
    writer.write_marker(Marker(0.0, "threshold", value=0.5))
    writer.write_marker(Marker(0.1, "block_start", "rest"))
    for i in range(n_updates):
        t = 0.25 * i
        focus = None if i % 9 == 4 else float(rng.uniform())
        writer.write_update(Update(
            t=t, focus=focus, raw_focus=focus, quality=float(rng.uniform(0.5, 1)),
            reason="" if focus is not None else "artifact", channel_quality=(1.0,),
            channel_reasons=("",), attention=None, rel_power=(), latency_s=0.01, sample_index=i,
        ))  # fmt: skip
        if focus is not None and focus > 0.8:
            writer.write_marker(Marker(t, "reward", value=5.0))
    writer.write_marker(Marker(0.25 * n_updates, "block_end", "rest"))


@pytest.fixture
def home(tmp_path, board_chunk):
    """A data dir with four recordings: closed with the app's summary, closed without one,
    a crash snapshot finalised at the next start, and a crash snapshot left open."""
    home = tmp_path / "home"
    root = home / "recordings"
    rng = np.random.default_rng(0)
    info = open_board("synthetic").info
    app = RecordingWriter(root / "a-app", info, meta={"user": "ann", "exercise": "rocket"})
    _write_session(app, board_chunk, rng)
    app.close(summary=SessionSummary(
        user="ann", started_at="2025-03-01T10:00:00+01:00", duration_s=600.0,
        exercise="rocket", mean_focus=0.7, rewards=12, points=120, model="focus-default",
    ).to_dict())  # fmt: skip
    plain = RecordingWriter(root / "b-plain", info, meta={"user": "bo", "exercise": "gauge"})
    _write_session(plain, board_chunk, rng)
    plain.close()
    crashing = RecordingWriter(root / "c-crash", info, meta={"user": "bo"})
    _write_session(crashing, board_chunk, rng)
    crashing.flush()
    shutil.copytree(root / "c-crash", root / "d-crash-open")  # what kill -9 would leave
    crashing.close()
    shutil.rmtree(root / "c-crash")
    shutil.copytree(root / "d-crash-open", root / "c-crash")
    crashed = summarise_recording(open_recording(root / "c-crash")).to_dict()
    finalise_interrupted(root / "c-crash", summary=crashed)  # as recovery at the next start
    assert (root / "d-crash-open" / ".open").exists()
    return home


def test_reindex_indexes_every_recording(home):
    root = home / "recordings"
    with SessionLibrary(default_path(home)) as lib:
        result = lib.reindex(root)
        rows = {r.recording_path.rsplit("/", 1)[-1]: r for r in lib.list_sessions()}
    # computed now: the one closed without a summary and the crash snapshot still open (the
    # finalised one got its summary from summarise_recording when it was finalised)
    assert (result.indexed, result.computed, result.failed) == (4, 2, ())
    assert set(rows) == {"a-app", "b-plain", "c-crash", "d-crash-open"}
    # the app's summary is taken as stored ...
    a = rows["a-app"]
    assert (a.user, a.rewards, a.points, a.mean_focus) == ("ann", 12, 120, 0.7)
    # ... the others come from their trace and markers
    for name in ("b-plain", "c-crash", "d-crash-open"):
        rec = open_recording(root / name)
        want = summarise_trace(rec.trace, rec.markers, duration_s=rec.duration_s)
        row = rows[name]
        assert row.user == "bo" and row.board == "synthetic"
        assert row.rewards == want["rewards"] == sum(m.kind == "reward" for m in rec.markers)
        assert row.mean_focus == pytest.approx(want["mean_focus"])
        focus = [float(r["focus"]) for r in rec.trace if r["focus"]]
        assert row.mean_focus == pytest.approx(np.mean(focus), abs=1e-6)
        assert row.duration_s == pytest.approx(rec.duration_s)
        assert set(row.block_focus) == {"rest"} and row.threshold == 0.5
    assert summarise_recording(open_recording(root / "b-plain")).exercise == "gauge"


def test_reindex_removes_deleted_recordings_and_keeps_others(home):
    root = home / "recordings"
    with SessionLibrary(default_path(home)) as lib:
        lib.reindex(root)
        lib.add_session(SessionSummary(user="cy", notes="no recording"))
        shutil.rmtree(root / "b-plain")
        result = lib.reindex(root)
        assert result.removed == 1 and result.indexed == 3
        assert sorted(r.user for r in lib.list_sessions()) == ["ann", "bo", "bo", "cy"]




def test_reindex_reads_samples_cut_short_or_lost_since_close(home):
    """A summary stored at close described samples later cut short or deleted: it was listed
    as it was (0:20 for what now holds 0:10), the lost recording too, with no word."""
    root = home / "recordings"
    eeg = root / "a-app" / "eeg.bin"
    with open(eeg, "r+b") as fh:
        fh.truncate(eeg.stat().st_size // 2)
    (root / "b-plain" / "eeg.bin").unlink()
    with SessionLibrary(default_path(home)) as lib:
        result = lib.reindex(root)
        rows = {r.recording_path.rsplit("/", 1)[-1]: r for r in lib.list_sessions()}
    assert [folder.rsplit("/", 1)[-1] for folder, _ in result.failed] == ["b-plain"]
    assert "no eeg.bin" in result.failed[0][1] and "b-plain" not in rows
    cut = open_recording(root / "a-app")
    a = rows["a-app"]
    assert a.duration_s == pytest.approx(cut.duration_s) and a.duration_s < 600
    assert a.notes.startswith(f"damaged: eeg.bin holds {cut.duration_s:.1f} of its")
    # its focus comes from the trace rows over the samples left (the ones after: no data)
    over = [float(r["focus"]) for r in cut.trace if r["focus"] and float(r["t"]) <= cut.duration_s]
    assert a.mean_focus == pytest.approx(np.mean(over)) if over else a.mean_focus is None
    # and its events: no reward counted after the samples
    assert a.rewards == sum(m.kind == "reward" and m.t <= cut.duration_s for m in cut.markers)
    assert a.rewards < sum(m.kind == "reward" for m in cut.markers)
    # computed: a-app now, and the crash snapshot still open; the intact c-crash keeps the
    # summary stored when it was finalised
    assert result.computed == 2 and rows["c-crash"].user == "bo"

def test_a_moved_data_folder_is_reindexed_in_place_not_twice(home, tmp_path, capsys):
    """Moving the data folder and reindexing listed every session twice (the old rows kept)."""
    with SessionLibrary(default_path(home)) as lib:
        lib.reindex(home / "recordings")
        before = {r.id: r for r in lib.list_sessions()}
    moved = tmp_path / "elsewhere" / "home"
    moved.parent.mkdir()
    home.rename(moved)
    assert main(["sessions", "--data-dir", str(moved), "--reindex", "--json"]) == 0
    captured = capsys.readouterr()
    assert "found 4 recording(s) in a new place" in captured.err
    after = {r["id"]: r for r in json.loads(captured.out)}
    assert set(after) == set(before)  # the same sessions, the same ids, nothing twice
    for session_id, row in after.items():
        assert row["recording_path"].startswith(str(moved.resolve()))
        assert row["recording_path"].endswith(before[session_id].recording_path.rsplit("/")[-1])
    assert main(["sessions", "--data-dir", str(moved), "--progress", "--json"]) == 0
    assert sum(d["sessions"] for d in json.loads(capsys.readouterr().out)) == 4

def test_sessions_lists_table_and_json(home, capsys):
    assert main(["sessions", "--data-dir", str(home), "--reindex"]) == 0
    out = capsys.readouterr().out
    assert "indexed 4 recording(s)" in out
    lines = out.strip().splitlines()
    header = next(line for line in lines if line.startswith("id"))
    for col in ("date", "user", "duration", "exercise", "focus", "above thr", "rewards",
                "model", "quality", "notes"):  # fmt: skip
        assert col in header
    assert sum(" ann " in line for line in lines) == 1
    # a crash-recovered session says so in the table too (it was only in --json)
    table = lines[lines.index(header):]
    recovered = [line for line in table if "interrupted: recovered after the program" in line]
    assert len(recovered) == 2
    assert all(len(line[header.index("notes"):]) <= 48 for line in recovered)
    assert main(["sessions", "--data-dir", str(home), "--json", "--user", "bo"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and {r["user"] for r in rows} == {"bo"}
    assert all(isinstance(r["id"], int) and r["recording_path"] for r in rows)
    assert main(["sessions", "--data-dir", str(home), "--progress", "--json"]) == 0
    days = json.loads(capsys.readouterr().out)
    assert sum(d["sessions"] for d in days) == 4
    assert main(["sessions", "--data-dir", str(home), "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err


def test_corrupt_database_then_reindex(home, capsys):
    db = default_path(home)
    db.write_bytes(b"this is not an sqlite database" * 100)
    assert main(["sessions", "--data-dir", str(home)]) == 2
    err = capsys.readouterr().err
    assert "corrupt" in err and "neurofb sessions --reindex" in err and "Traceback" not in err
    assert main(["sessions", "--data-dir", str(home), "--reindex"]) == 0
    out = capsys.readouterr().out
    assert "moved the damaged database aside" in out
    assert len(list(home.glob("sessions.sqlite3.corrupt-*"))) == 1
    with SessionLibrary(db) as lib:
        assert len(lib) == 4
    assert (home / "recordings" / "a-app" / "eeg.bin").exists()


def test_export_and_import_commands(home, tmp_path, capsys):
    rec = home / "recordings" / "a-app"
    edf = tmp_path / "a.edf"
    assert main(["export", str(rec), "--to", "edf", "--out", str(edf)]) == 0
    assert edf.is_file() and "wrote" in capsys.readouterr().out
    assert main(["export", str(rec), "--to", "edf", "--out", str(edf)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["export", str(rec), "--to", "edf", "--out", str(edf), "--force"]) == 0
    assert main(["export", str(rec), "--to", "csv"]) == 0  # default: beside the recording
    assert (home / "recordings" / "a-app.csv").is_file()
    capsys.readouterr()
    out_dir = tmp_path / "imported"
    assert main(["import", str(edf), "--out", str(out_dir), "--data-dir", str(home)]) == 0
    assert "added to the session library" in capsys.readouterr().out
    back = open_recording(out_dir)
    assert back.info.ch_names == open_recording(rec).info.ch_names
    with SessionLibrary(default_path(home)) as lib:
        assert lib.get_by_recording(out_dir) is not None
    garbage = tmp_path / "garbage.edf"
    garbage.write_bytes(np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    assert main(["import", str(garbage), "--data-dir", str(home)]) == 2
    err = capsys.readouterr().err
    assert "neurofb import: error:" in err and "garbage.edf" in err and "Traceback" not in err


def test_sessions_json_from_a_fresh_process(home):
    res = subprocess.run(
        [sys.executable, "-m", "neurofb", "sessions", "--json", "--reindex", "--data-dir",
         str(home)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert sorted(r["user"] for r in rows) == ["ann", "bo", "bo", "bo"]
    assert "indexed 4" in res.stderr


def test_command_line_recordings_name_their_person(eegmat_dir, tmp_path, capsys):
    # A clinician recording or importing from the command line says whose session it is, and
    # `sessions --user` finds it (an EDF's own patient id is the default for an import).
    home = tmp_path / "home"
    edf = eegmat_dir / "Subject00_2.edf"
    assert main(["import", str(edf), "--data-dir", str(home), "--user", "ann"]) == 0
    assert main(["import", str(edf), "--data-dir", str(home)]) == 0
    res = subprocess.run([sys.executable, "-m", "neurofb", "stream", "--seconds", "2",
                          "--target", "engagement", "--record", "--user", "bo",
                          "--data-dir", str(home)],
                         capture_output=True, text=True, timeout=240, check=False)
    assert res.returncode == 0, res.stderr
    capsys.readouterr()
    for user, exercise in (("ann", "import"), ("bo", "stream")):
        assert main(["sessions", "--data-dir", str(home), "--json", "--user", user]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert len(rows) == 1 and rows[0]["user"] == user, (user, rows)
        assert (exercise == "stream") == (rows[0]["exercise"] == "stream")
    assert main(["sessions", "--data-dir", str(home), "--json"]) == 0
    assert sorted(r["user"] for r in json.loads(capsys.readouterr().out)) == ["0", "ann", "bo"]
    assert main(["stream", "--seconds", "1", "--user", "bo"]) == 2
    assert "--user names the person of a recording: give --record" in capsys.readouterr().err


@pytest.mark.parametrize("reindex", [(), ("--reindex",)])
def test_a_data_folder_that_is_a_file_is_called_one(reindex, tmp_path, capsys):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("mine")
    assert main(["sessions", "--data-dir", str(not_a_folder), *reindex]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err
    assert not_a_folder.read_text() == "mine"
