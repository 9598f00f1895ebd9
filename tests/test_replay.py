"""Replay: the ReplaySource contract (chunks, end, loop, seek, pause), its clock-anchored pace on
a simulated clock, replay determinism across speeds and runs on real EEG, EDF replay, the CLI."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurofb import paths
from neurofb.cli import main
from neurofb.errors import BoardError, EndOfStream
from neurofb.recording import Recording, open_recording
from neurofb.recording.trace import COLUMNS, read_trace
from neurofb.stream.assemble import replay
from neurofb.stream.replay import ReplaySource
from neurofb.stream.runner import StreamRunner
from neurofb.types import Chunk, Update

DEMO = paths.shipped_recordings_dir() / "demo-eegmat"


@pytest.fixture(scope="module")
def demo() -> Recording:
    return open_recording(DEMO)


def _head(rec: Recording, seconds: float) -> Recording:
    n = round(seconds * rec.sfreq)
    return dataclasses.replace(rec, data=rec.data[:, :n].copy(), timestamps=rec.timestamps[:n])


def _drain(source: ReplaySource, limit: int = 10_000) -> list[Chunk]:
    chunks = []
    for _ in range(limit):
        try:
            chunk = source.read()
        except EndOfStream:
            return chunks
        if chunk is not None:
            chunks.append(chunk)
    raise AssertionError("the replay never ended")


class FakeClock:
    """A simulated monotonic clock (to check the pace over long runs without waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_max_speed_hands_out_the_whole_recording_in_large_chunks(demo):
    source = ReplaySource(demo, speed=None, batch_s=60.0)
    assert source.info.live is False and source.info.ch_names == demo.ch_names
    with pytest.raises(BoardError, match="start"):
        source.read()
    source.start()
    chunks = _drain(source)
    assert [c.n_samples for c in chunks[:-1]] == [15000] * (len(chunks) - 1)
    assert np.array_equal(np.concatenate([c.data for c in chunks], axis=1), demo.data)
    assert np.array_equal(np.concatenate([c.timestamps for c in chunks]), demo.timestamps)
    assert [c.first_sample for c in chunks] == [0, 15000, 30000]
    with pytest.raises(EndOfStream):
        source.read()
    source.stop()
    source.stop()
    huge = ReplaySource(demo, speed=None, seconds=1e308)  # "stop after 1e308 s": the end first
    huge.start()
    assert sum(c.n_samples for c in _drain(huge)) == demo.n_samples


def test_paced_replay_follows_the_clock_without_drift(demo):
    """Irregular reads over a simulated 10 minutes: delivered = floor(elapsed × speed × sfreq)."""
    clock = FakeClock()
    rng = np.random.default_rng(0)
    for speed in (1.0, 3.0):
        source = ReplaySource(demo, speed=speed, loop=True, chunk_s=0.1, clock=clock)
        source.start()
        t0, delivered, worst = clock.now, 0, 0.0
        assert source.read() is None  # nothing is due at the start
        while clock.now - t0 < 600:
            clock.now += float(rng.choice([0.004, 0.02, 0.1, 0.35, 1.3]))
            chunk = source.read()
            if chunk is not None:
                assert chunk.first_sample == delivered
                delivered += chunk.n_samples
            due = (clock.now - t0) * speed * demo.sfreq
            lag = (due - delivered) / demo.sfreq / speed  # seconds of recording not yet out
            assert delivered <= due + 1e-9
            worst = max(worst, lag)
        # never more than one chunk (chunk_s) plus one sample behind, however long it runs
        assert worst <= 0.1 + 1.0 / demo.sfreq
        assert source.samples_delivered == delivered > 600 * speed * demo.sfreq - 26


def test_loop_keeps_counting_and_timestamps_keep_rising():
    rec = open_recording(DEMO)
    short = _head(rec, 10.0)
    source = ReplaySource(short, speed=None, loop=True, batch_s=4.0)
    source.start()
    chunks = [source.read() for _ in range(8)]  # 3.2 laps of 2500 samples, 1000 per chunk
    data = np.concatenate([c.data for c in chunks], axis=1)
    stamps = np.concatenate([c.timestamps for c in chunks])
    assert data.shape[1] == 8000
    for lap in range(3):
        assert np.array_equal(data[:, 2500 * lap : 2500 * (lap + 1)], short.data)
    assert np.all(np.diff(stamps) > 0)
    assert np.allclose(np.diff(stamps), 1 / short.sfreq, atol=1e-5)
    starts = [c.first_sample for c in chunks]
    assert starts == np.cumsum([0] + [c.n_samples for c in chunks[:-1]]).tolist()


def test_seek_pause_and_resume(demo):
    clock = FakeClock()
    source = ReplaySource(demo, speed=1.0, chunk_s=0.1, clock=clock)
    source.start()
    clock.now += 1.0
    first = source.read()
    assert first.n_samples == 250 and np.array_equal(first.data, demo.data[:, :250])
    source.seek(100.0)
    assert source.position_s == 100.0
    assert source.read() is None  # the pace is re-anchored at the seek
    clock.now += 0.5
    jumped = source.read()
    assert jumped.first_sample == 250 and jumped.n_samples == 125
    assert np.array_equal(jumped.data, demo.data[:, 25000:25125])
    source.stop()
    clock.now += 30.0  # paused: nothing is lost or skipped
    source.start()
    clock.now += 0.2
    resumed = source.read()
    assert np.array_equal(resumed.data, demo.data[:, 25125:25175])
    for bad in (-1.0, demo.duration_s + 1, float("nan")):
        with pytest.raises(ValueError, match="seek"):
            source.seek(bad)
    source.seek(demo.duration_s)
    with pytest.raises(EndOfStream):
        source.read()


def test_bad_arguments():
    with pytest.raises(ValueError, match="speed"):
        ReplaySource(DEMO, speed=0)
    with pytest.raises(ValueError, match="speed"):
        ReplaySource(DEMO, speed=float("inf"))
    with pytest.raises(ValueError, match="chunk_s"):
        ReplaySource(DEMO, chunk_s=0)
    with pytest.raises(ValueError, match="seconds"):
        replay(DEMO, loop=True)


def _cells(path) -> list[tuple[str, ...]]:
    return [tuple(r[c] for c in COLUMNS if c != "latency_ms") for r in read_trace(path)]


def test_trace_is_identical_at_every_speed_and_run_to_run(demo, tmp_path):
    short = _head(demo, 30.0)
    runs = {
        "max-a": dict(speed=None),
        "max-b": dict(speed=None),
        "x8": dict(speed=8.0),
    }
    got = {}
    for name, kw in runs.items():
        updates = replay(short, trace_path=tmp_path / f"{name}.csv", **kw)
        assert len(updates) == len(read_trace(tmp_path / f"{name}.csv"))
        got[name] = _cells(tmp_path / f"{name}.csv")
    assert len(got["max-a"]) == (30 * 250 - 500) // 63 + 1
    assert got["max-a"] == got["max-b"] == got["x8"]
    assert any(row[1] for row in got["max-a"])  # focus values, not only gated rows
    # a different target changes the trace: the comparison above can fail
    other = replay(short, target="alpha", trace_path=tmp_path / "alpha.csv")
    assert len(other) == len(got["max-a"]) and _cells(tmp_path / "alpha.csv") != got["max-a"]


def test_replay_is_a_live_source_for_the_stream_runner(demo):
    """The runner (as the app uses it) gets the whole recording and an 'ended' event."""
    short = _head(demo, 3.0)
    source = ReplaySource(short, speed=20.0)
    events, chunks = [], []

    class Keep:
        def process(self, chunk: Chunk) -> list[Update]:
            chunks.append(chunk)
            return []

    runner = StreamRunner(source, Keep())
    runner.add_status_listener(events.append)
    runner.start()
    assert runner.join(timeout=60)
    assert [e.kind for e in events][-2:] == ["ended", "stopped"]
    assert np.array_equal(np.concatenate([c.data for c in chunks], axis=1), short.data)


def test_loop_and_seek_run_through_the_pipeline(demo):
    short = _head(demo, 12.0)
    looped = replay(short, speed=None, loop=True, seconds=30.0, hop_s=1.0)
    assert [u.sample_index for u in looped] == list(range(500, 30 * 250 + 1, 250))
    seeked = replay(demo, speed=None, seek_s=170.0, hop_s=1.0)
    assert len(seeked) == int(demo.duration_s - 170.0 - 2.0) + 1


def test_eegmat_edf_replays(eegmat_dir, tmp_path):
    edf = eegmat_dir / "Subject00_2.edf"
    updates = replay(edf, hop_s=1.0, target="engagement", trace_path=tmp_path / "edf.csv")
    assert len(updates) == 61
    assert sum(u.focus is not None for u in updates) > 50
    assert all(0 <= u.focus <= 1 for u in updates if u.focus is not None)


def test_cli_replay_writes_the_trace(tmp_path, capsys):
    trace = tmp_path / "demo.csv"
    code = main(["replay", str(DEMO), "--speed", "max", "--hop", "1", "--seconds", "40",
                 "--target", "engagement", "--trace", str(trace)])
    out = capsys.readouterr().out
    assert code == 0 and "replayed" in out and "updates" in out
    rows = read_trace(trace)
    assert len(rows) == 39 and list(rows[0]) == list(COLUMNS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--loop"], "--loop needs --seconds"),
        (["--seek", "999"], "past the end"),
        (["--hop", "5", "--window", "2"], "bad engine settings"),
    ],
)
def test_cli_replay_errors(argv, message, capsys):
    assert main(["replay", str(DEMO), *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_replay_bad_speed_and_path(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["replay", str(DEMO), "--speed", "fast"])
    assert "expected a number or 'max'" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_synthetic_board_recording_replays_to_its_own_trace(tmp_path, capsys):
    """Live, BrainFlow's synthetic board (sines, not EEG) is gated only on missing samples; its
    recording, replayed, is gated the same way and gives the trace it recorded."""
    path = tmp_path / "synthetic"
    assert main(["stream", "--seconds", "4", "--record", str(path), "--target",
                 "engagement"]) == 0
    assert "(0 gated)" in capsys.readouterr().out
    recorded = [(r["t"], r["focus"], r["quality"]) for r in read_trace(path / "trace.csv")]
    trace = tmp_path / "replayed.csv"
    assert main(["replay", str(path), "--target", "engagement", "--trace", str(trace)]) == 0
    assert "(0 gated)" in capsys.readouterr().out
    assert [(r["t"], r["focus"], r["quality"]) for r in read_trace(trace)] == recorded != []
