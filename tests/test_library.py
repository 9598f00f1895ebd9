"""The session library: real SQLite files, migrations, corruption, locking, reindexing."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import numpy as np
import pytest

from neurofb.errors import LibraryError
from neurofb.library.index import (
    SCHEMA_VERSION,
    SessionLibrary,
    SessionSummary,
    default_path,
    rebuild,
)
from neurofb.library.summary import STREAK_GRACE_S, paused_spans, summarise_trace
from neurofb.practice.reward import RewardConfig
from neurofb.recording.trace import TraceWriter, read_trace
from neurofb.types import Marker, Update

# The v1 schema exactly as neurofb 0.1 created it: a frozen copy, so that the migration test keeps
# testing a real v1 file even if MIGRATIONS is edited by mistake.
V1_SCHEMA = """
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL DEFAULT '',
    started_ts REAL,
    duration_s REAL NOT NULL DEFAULT 0,
    exercise TEXT NOT NULL DEFAULT '',
    mean_focus REAL,
    time_above_s REAL NOT NULL DEFAULT 0,
    fraction_above REAL,
    rewards INTEGER NOT NULL DEFAULT 0,
    points INTEGER NOT NULL DEFAULT 0,
    longest_streak INTEGER NOT NULL DEFAULT 0,
    model TEXT NOT NULL DEFAULT '',
    model_hash TEXT NOT NULL DEFAULT '',
    quality REAL,
    recording_path TEXT UNIQUE,
    board TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT ''
);
PRAGMA user_version = 1;
"""


def _summary(rng, *, user="ann", day=1, hour=10, **kw) -> SessionSummary:
    start = dt.datetime(2025, 3, day, hour, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    fields = dict(
        user=user,
        started_at=start.isoformat(),
        duration_s=float(rng.integers(60, 1200)),
        exercise=str(rng.choice(["gauge", "rocket", "clarity"])),
        mean_focus=float(rng.uniform(0, 1)),
        time_above_s=float(rng.uniform(0, 50)),
        fraction_above=float(rng.uniform(0, 1)),
        rewards=int(rng.integers(0, 40)),
        points=int(rng.integers(0, 400)),
        longest_streak=int(rng.integers(0, 9)),
        model="focus-default",
        model_hash="abc123",
        quality=float(rng.uniform(0.5, 1)),
        board="synthetic",
        block_focus={"rest": float(rng.uniform(0, 1)), "task": float(rng.uniform(0, 1))},
    )
    fields.update(kw)
    return SessionSummary(**fields)


def test_default_path_is_in_the_data_dir(_private_home):
    assert default_path() == _private_home / "sessions.sqlite3"
    with SessionLibrary() as lib:
        assert lib.path == _private_home / "sessions.sqlite3"
    assert (_private_home / "sessions.sqlite3").is_file()


def test_add_list_get_delete_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    summaries = [_summary(rng, day=d, recording_path=str(tmp_path / f"rec{d}")) for d in (3, 1, 2)]
    with SessionLibrary(tmp_path / "s.sqlite3") as lib:
        ids = [lib.add_session(s) for s in summaries]
        assert len(set(ids)) == 3 and len(lib) == 3
        rows = lib.list_sessions()
        # oldest first, every field back as stored
        assert [r.started_at for r in rows] == sorted(s.started_at for s in summaries)
        for s, i in zip(summaries, ids, strict=True):
            row = lib.get(i)
            assert row.id == i
            assert {**row.to_dict(), "id": None} == {**s.to_dict(), "id": None}
        lib.delete(ids[0])
        assert len(lib) == 2
        with pytest.raises(LibraryError, match="no session with id"):
            lib.get(ids[0])
        with pytest.raises(LibraryError, match="no session with id"):
            lib.delete(ids[0])


def test_same_recording_replaces_its_row(tmp_path):
    rng = np.random.default_rng(2)
    with SessionLibrary(tmp_path / "s.sqlite3") as lib:
        first = lib.add_session(_summary(rng, recording_path=str(tmp_path / "r"), rewards=1))
        again = lib.add_session(_summary(rng, recording_path=str(tmp_path / "r"), rewards=7))
        assert first == again and len(lib) == 1
        assert lib.get(first).rewards == 7
        assert lib.get_by_recording(tmp_path / "r").id == first
        assert lib.get_by_recording(tmp_path / "other") is None
        # sessions without a recording are never merged
        lib.add_session(_summary(rng))
        lib.add_session(_summary(rng))
        assert len(lib) == 3
        # replacing a row spends no id: the next session's number follows on (a reindex made
        # it jump by one per recording)
        for _ in range(5):
            lib.add_session(_summary(rng, recording_path=str(tmp_path / "r")))
        assert lib.add_session(_summary(rng)) == first + 3


def test_add_accepts_a_dict_and_rejects_garbage(tmp_path):
    with SessionLibrary(tmp_path / "s.sqlite3") as lib:
        i = lib.add_session({"user": "bo", "duration_s": "30", "rewards": 3.0, "extra": 1})
        row = lib.get(i)
        assert (row.user, row.duration_s, row.rewards) == ("bo", 30.0, 3)
        with pytest.raises(ValueError, match="duration_s"):
            lib.add_session({"duration_s": "long"})
        with pytest.raises(ValueError, match="SessionSummary or a mapping"):
            lib.add_session(["user", "bo"])
    with pytest.raises(ValueError, match="mean_focus"):
        SessionSummary(mean_focus=float("nan"))


def test_filters_by_user_and_time(tmp_path):
    rng = np.random.default_rng(3)
    with SessionLibrary(tmp_path / "s.sqlite3") as lib:
        for day in (1, 2, 3, 4):
            lib.add_session(_summary(rng, user="ann", day=day))
            lib.add_session(_summary(rng, user="bo", day=day))
        assert {r.user for r in lib.list_sessions(user="bo")} == {"bo"}
        since = lib.list_sessions(user="ann", since="2025-03-03T00:00:00+01:00")
        assert [r.started_at[:10] for r in since] == ["2025-03-03", "2025-03-04"]
        window = lib.list_sessions(since="2025-03-02T00:00:00+01:00",
                                   until=dt.datetime(2025, 3, 3, tzinfo=dt.timezone(
                                       dt.timedelta(hours=1))))
        assert len(window) == 2 and {r.started_at[:10] for r in window} == {"2025-03-02"}
        assert lib.users() == ["ann", "bo"]
        with pytest.raises(ValueError, match="ISO 8601"):
            lib.list_sessions(since="last tuesday")


def test_progress_aggregates_per_day(tmp_path):
    rng = np.random.default_rng(4)
    summaries = [_summary(rng, day=d, hour=h) for d, h in [(1, 9), (1, 15), (2, 9), (5, 20)]]
    summaries.append(_summary(rng, user="bo", day=1))
    with SessionLibrary(tmp_path / "s.sqlite3") as lib:
        for s in summaries:
            lib.add_session(s)
        days = lib.progress("ann")
        later = lib.progress("ann", since="2025-03-02")  # sessions --progress --since
        with pytest.raises(ValueError):
            lib.progress("ann", since="garbage")
    assert [d.day for d in days] == ["2025-03-01", "2025-03-02", "2025-03-05"]
    assert [d.day for d in later] == ["2025-03-02", "2025-03-05"]
    mine = [s for s in summaries if s.user == "ann" and s.started_at.startswith("2025-03-01")]
    d0 = days[0]
    assert d0.sessions == 2
    assert d0.duration_s == pytest.approx(sum(s.duration_s for s in mine))
    assert d0.rewards == sum(s.rewards for s in mine)
    assert d0.points == sum(s.points for s in mine)
    weighted = sum(s.mean_focus * s.duration_s for s in mine) / sum(s.duration_s for s in mine)
    assert d0.mean_focus == pytest.approx(weighted)
    assert d0.time_above_s == pytest.approx(sum(s.time_above_s for s in mine))


def test_v1_database_is_migrated(tmp_path):
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    con.executescript(V1_SCHEMA)
    con.execute(
        "INSERT INTO sessions (user, started_at, started_ts, duration_s, exercise, mean_focus, "
        "rewards, recording_path) VALUES ('ann', '2024-12-01T10:00:00+00:00', 1733047200, "
        "300, 'gauge', 0.61, 12, '/data/rec-old')"
    )
    con.commit()
    con.close()
    with SessionLibrary(db) as lib:
        assert lib.schema_version == SCHEMA_VERSION == 2
        (row,) = lib.list_sessions()
        assert (row.user, row.duration_s, row.mean_focus, row.rewards) == ("ann", 300, 0.61, 12)
        assert row.recording_path == "/data/rec-old" and row.block_focus == {}
        i = lib.add_session(SessionSummary(user="ann", block_focus={"rest": 0.25}))
        assert lib.get(i).block_focus == {"rest": 0.25}
    con = sqlite3.connect(db)
    cols = {r[1] for r in con.execute("PRAGMA table_info(sessions)")}
    indexes = {r[1] for r in con.execute("PRAGMA index_list(sessions)")}
    assert "summary_json" in cols and "sessions_user_time" in indexes
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(LibraryError, match="cannot open the session database"):
        SessionLibrary(blocker / "sub" / "sessions.sqlite3")
    with pytest.raises(LibraryError, match="is a folder"):
        SessionLibrary(tmp_path)


def test_newer_schema_is_refused(tmp_path):
    db = tmp_path / "new.sqlite3"
    with SessionLibrary(db):  # ours, then "upgraded" by a newer neurofb
        pass
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    before = db.read_bytes()
    with pytest.raises(LibraryError, match="newer than this neurofb"):
        SessionLibrary(db)
    assert db.read_bytes() == before  # not even its journal mode changed



@pytest.mark.parametrize("name, table, version", [
    ("other.db", "notes", 0), ("sessions.sqlite3", "notes", 0), ("webapp.db", "sessions", 0),
    ("webapp.db", "sessions", 1), ("webapp.db", "sessions", 2)])
def test_another_programs_database_is_refused_untouched(tmp_path, name, table, version):
    """`sessions --db other.db` added a sessions table to it, set its user_version and WAL (a
    web app's own `sessions` table too, with a schema version of its own)."""
    db = tmp_path / name
    con = sqlite3.connect(db)
    con.execute(f"CREATE TABLE {table} (x TEXT)")
    con.execute(f"INSERT INTO {table} VALUES ('keep')")
    con.execute(f"PRAGMA user_version = {version}")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(LibraryError, match=rf"another program \(tables: {table}\)"):
        SessionLibrary(db)
    with pytest.raises(LibraryError, match="another program"):  # a rebuild takes it over neither
        rebuild(tmp_path / "recordings", path=db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]

def test_garbage_file_is_a_clear_error_and_rebuild_moves_it_aside(tmp_path):
    db = tmp_path / "sessions.sqlite3"
    garbage = np.random.default_rng(5).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    db.write_bytes(garbage)
    with pytest.raises(LibraryError, match=r"corrupt.*neurofb sessions --reindex"):
        SessionLibrary(db)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    keep = recordings / "untouched.txt"
    keep.write_text("not a recording")
    result = rebuild(recordings, path=db)
    assert result.moved_aside is not None and ".corrupt-" in result.moved_aside
    assert (tmp_path / result.moved_aside).read_bytes() == garbage
    assert keep.read_text() == "not a recording"
    with SessionLibrary(db) as lib:
        assert len(lib) == 0 and lib.schema_version == SCHEMA_VERSION
    # another file given as the database (a slip of the user's) is never taken over
    victim = tmp_path / "victim.edf"
    victim.write_bytes(garbage)
    with pytest.raises(LibraryError, match="not a session database"):
        rebuild(recordings, path=victim)
    assert victim.read_bytes() == garbage and list(tmp_path.glob("victim.edf*")) == [victim]


def test_two_rebuilds_of_one_damaged_database_both_end_well(tmp_path, monkeypatch):
    """Two `sessions --reindex` at once: the loser found the damaged file already moved aside
    and failed ("cannot access … No such file"). Made to happen here by wrapping the real move
    so the other process's move comes first; the loser now builds on."""
    import neurofb.library.index as index

    db = tmp_path / "sessions.sqlite3"
    db.write_bytes(b"not a database " * 2000)
    real = index._move_aside

    def the_other_process_moved_it_first(path):
        real(path)  # the winner's move
        return real(path)  # this one's: the file is gone

    monkeypatch.setattr(index, "_move_aside", the_other_process_moved_it_first)
    (tmp_path / "recordings").mkdir()
    result = rebuild(tmp_path / "recordings", path=db)
    assert result.moved_aside is None and len(list(tmp_path.glob("*.corrupt-*"))) == 1
    with SessionLibrary(db) as lib:
        assert len(lib) == 0


def test_damaged_pages_are_detected(tmp_path):
    db = tmp_path / "s.sqlite3"
    rng = np.random.default_rng(6)
    with SessionLibrary(db) as lib:
        for i in range(300):
            lib.add_session(_summary(rng, notes="x" * 200, recording_path=str(tmp_path / f"{i}")))
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    raw = bytearray(db.read_bytes())
    assert len(raw) > 6 * page
    raw[2 * page : 5 * page] = rng.integers(0, 256, 3 * page, dtype=np.uint8).tobytes()
    db.write_bytes(bytes(raw))
    with pytest.raises(LibraryError, match="corrupt"):
        SessionLibrary(db)


def test_locked_database_gives_a_clear_error(tmp_path):
    db = tmp_path / "s.sqlite3"
    with SessionLibrary(db) as lib:
        lib.add_session(SessionSummary(user="ann"))
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with SessionLibrary(db, busy_timeout_s=0.2) as lib:
            # WAL: readers still read while another connection writes ...
            assert [r.user for r in lib.list_sessions()] == ["ann"]
            # ... but a writer gets a clear error after the busy timeout
            with pytest.raises(LibraryError, match="locked by another program"):
                lib.add_session(SessionSummary(user="bo"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    with SessionLibrary(db) as lib:
        assert [r.user for r in lib.list_sessions()] == ["ann"]


def test_exclusive_locking_mode_blocks_opening(tmp_path):
    db = tmp_path / "s.sqlite3"
    SessionLibrary(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO sessions (user) VALUES ('x')")
    try:
        with pytest.raises(LibraryError, match="locked"):
            SessionLibrary(db, busy_timeout_s=0.2)
    finally:
        other.execute("COMMIT")
        other.close()


def _write_trace(path, focus, quality, hop=0.25):
    with TraceWriter(path) as tw:
        for i, (f, q) in enumerate(zip(focus, quality, strict=True)):
            tw.write(
                Update(
                    t=2.0 + i * hop, focus=f, raw_focus=f, quality=q,
                    reason="" if f is not None else "bad signal", channel_quality=(q,),
                    channel_reasons=("",), attention=None, rel_power=(), latency_s=0.01,
                    sample_index=i,
                )
            )  # fmt: skip
    return read_trace(path)


def test_summarise_trace_matches_a_direct_computation(tmp_path):
    rng = np.random.default_rng(7)
    n, hop = 400, 0.25
    focus = [None if rng.uniform() < 0.1 else float(rng.uniform()) for _ in range(n)]
    quality = rng.uniform(0.3, 1, n).tolist()
    rows = _write_trace(tmp_path / "trace.csv", focus, quality, hop)
    t = 2.0 + np.arange(n) * hop
    markers = [
        Marker(0.0, "threshold", value=0.5),
        Marker(40.0, "threshold", value=0.7),
        Marker(10.0, "block_start", "rest"), Marker(30.0, "block_end", "rest"),
        Marker(30.0, "block_start", "task"), Marker(60.0, "block_end", "task"),
        Marker(60.0, "block_start", "rest"),  # left open: closed at the end
    ]  # fmt: skip
    # rewards at the end of some stretches above threshold, two in the longest one
    f = np.array([np.nan if v is None else v for v in focus])
    # a later threshold marker is the threshold adapted on its update: in force after it
    thr = np.where(t <= 40.0, 0.5, 0.7)
    above = np.nan_to_num(f, nan=-1) >= thr
    idx = np.flatnonzero(above)
    reward_idx = idx[::7]
    markers += [Marker(float(t[i]), "reward", value=10.0) for i in reward_idx]
    out = summarise_trace(rows, markers, duration_s=2.0 + n * hop)
    valid = ~np.isnan(f)
    assert out["mean_focus"] == pytest.approx(np.nanmean(f), abs=1e-6)
    # each update stands for the hop before it, the first for none (as the reward logic counts)
    assert out["time_above_s"] == pytest.approx(above[1:].sum() * hop)
    assert out["fraction_above"] == pytest.approx(above[1:].sum() / valid[1:].sum())
    assert out["rewards"] == len(reward_idx) and out["points"] == 10 * len(reward_idx)
    assert out["quality"] == pytest.approx(np.mean(quality), abs=1e-4)
    assert out["threshold"] == 0.7
    rest = valid & (t >= 10) & (t < 30)
    rest2 = valid & (t >= 60)
    assert out["block_focus"]["rest"] == pytest.approx(f[rest].mean(), abs=1e-6)
    assert out["block_focus"]["rest 2"] == pytest.approx(f[rest2].mean(), abs=1e-6)
    assert set(out["block_focus"]) == {"rest", "task", "rest 2"}
    # longest streak: the most rewards inside one stretch above threshold, where (as the
    # reward logic's streak_grace_s) up to 1 s = 4 updates off target does not break it
    streak, best, off = 0, 0, 0
    for i in range(n):
        if above[i]:
            off = 0
        else:
            off += 1
            if off * hop > STREAK_GRACE_S:
                streak = 0
        if i in set(reward_idx.tolist()):
            streak += 1
            best = max(best, streak)
    assert out["longest_streak"] == best
    assert STREAK_GRACE_S == RewardConfig().streak_grace_s  # the reward logic's default


def test_summarise_trace_leaves_paused_stretches_out(tmp_path):
    """A recovered session counted the minute it was paused (duration, focus, time above)."""
    n, hop = 200, 0.25
    focus = [0.9 if 80 <= i < 120 else 0.2 for i in range(n)]  # high only while paused
    rows = _write_trace(tmp_path / "trace.csv", focus, [1.0] * n, hop)
    t = 2.0 + np.arange(n) * hop
    pause, resume = float(t[79]), float(t[119])  # marked at the last update before/during
    markers = [Marker(0.0, "threshold", value=0.5), Marker(pause, "pause"),
               Marker(resume, "resume")]
    out = summarise_trace(rows, markers, duration_s=2.0 + n * hop)
    assert out["mean_focus"] == pytest.approx(0.2) and out["time_above_s"] == 0.0
    assert out["fraction_above"] == 0.0
    # a pause never resumed lasts to the end
    out = summarise_trace(rows, [Marker(0.0, "threshold", value=0.5), Marker(pause, "pause")],
                          duration_s=2.0 + n * hop)
    assert out["mean_focus"] == pytest.approx(0.2)
    assert paused_spans([Marker(pause, "pause"), Marker(resume, "resume"),
                         Marker(60.0, "pause")], 70.0) == [(pause, resume), (60.0, 70.0)]


def test_summarise_trace_without_threshold_or_trace():
    out = summarise_trace([], [Marker(1.0, "reward")], duration_s=10.0)
    assert out["mean_focus"] is None and out["fraction_above"] is None
    assert (out["rewards"], out["points"], out["time_above_s"]) == (1, 1, 0.0)


def test_summary_json_keeps_extra_fields(tmp_path):
    db = tmp_path / "s.sqlite3"
    with SessionLibrary(db) as lib:
        i = lib.add_session(SessionSummary(user="ann", threshold=0.62, block_focus={"a": 0.1}))
    con = sqlite3.connect(db)
    (blob,) = con.execute("SELECT summary_json FROM sessions WHERE id = ?", (i,)).fetchone()
    con.close()
    assert json.loads(blob)["threshold"] == 0.62


def test_a_files_many_note_markers_are_counted_not_copied_into_the_notes():
    """An imported XDF with 175 stimulus labels (and an XML blob) as note markers: the session's
    notes quote its own note and the first three, shortened, and count the rest."""
    from types import SimpleNamespace

    from neurofb.library.summary import MAX_NOTE_CHARS, summarise_recording

    markers = [Marker(0.5, "note", "<xml>" + "x" * 300 + "</xml>")] + [
        Marker(1.0 + i, "note", f"stim {i}") for i in range(174)]
    rec = SimpleNamespace(meta={"notes": "imported from lab.xdf"}, markers=markers, info=None,
                          path=None, duration_s=200.0, trace=[])
    notes = summarise_recording(rec).notes.split("; ")
    assert notes[0] == "imported from lab.xdf" and notes[2:4] == ["stim 0", "stim 1"]
    assert len(notes[1]) == MAX_NOTE_CHARS and notes[1].endswith("…")
    assert notes[4:] == ["and 172 more note markers"]
    few = SimpleNamespace(**{**vars(rec), "markers": markers[1:3]})
    assert summarise_recording(few).notes == "imported from lab.xdf; stim 0; stim 1"
