"""The stream runner on the real synthetic and playback boards, including a board dying mid-stream.

The pipeline here is a small real object with the pipeline's ``process`` shape (it counts samples
and emits an update every hop); the end-to-end test with neurofb's own Pipeline is in
tests/test_runner_pipeline.py.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from board_helpers import record_synthetic_csv, wait_for

from neurofb.errors import BoardError
from neurofb.stream.brainflow import BrainFlowSource, open_board
from neurofb.stream.runner import StatusEvent, StreamRunner, backoff_s
from neurofb.types import Chunk, Marker, Update


class HopCounter:
    """Pipeline-shaped: emits one update per ``hop`` samples, focus = fraction of samples > 0."""

    def __init__(self, sfreq: float, hop: int = 25) -> None:
        self.sfreq = sfreq
        self.hop = hop
        self.seen = 0
        self.gaps = 0
        self._pending: list[np.ndarray] = []

    def process(self, chunk: Chunk) -> list[Update]:
        if chunk.first_sample != self.seen:
            self.gaps += 1
        self.seen = chunk.first_sample + chunk.n_samples
        self._pending.append(chunk.data)
        data = np.concatenate(self._pending, axis=1)
        out = []
        while data.shape[1] >= self.hop:
            block, data = data[:, : self.hop], data[:, self.hop :]
            focus = float(np.mean(block > 0))
            n_ch = block.shape[0]
            out.append(
                Update(
                    t=(self.seen - data.shape[1]) / self.sfreq,
                    focus=focus,
                    raw_focus=focus,
                    quality=1.0,
                    reason="",
                    channel_quality=(1.0,) * n_ch,
                    channel_reasons=("",) * n_ch,
                    attention=None,
                    rel_power=(),
                    latency_s=0.0,
                    sample_index=self.seen - data.shape[1],
                )
            )
        self._pending = [data]
        return out


class Collector:
    """Thread-safe record of everything a runner sends."""

    def __init__(self, runner: StreamRunner) -> None:
        self.lock = threading.Lock()
        self.chunks: list[Chunk] = []
        self.updates: list[Update] = []
        self.markers: list[Marker] = []
        self.status: list[StatusEvent] = []
        runner.add_chunk_listener(self._add(self.chunks))
        runner.add_update_listener(self._add(self.updates))
        runner.add_marker_listener(self._add(self.markers))
        runner.add_status_listener(self._add(self.status))

    def _add(self, target: list):
        def callback(item):
            with self.lock:
                target.append(item)

        return callback

    def kinds(self) -> list[str]:
        with self.lock:
            return [e.kind for e in self.status]

    def samples(self) -> int:
        with self.lock:
            return sum(c.n_samples for c in self.chunks)


@pytest.fixture
def synthetic():
    source = open_board("synthetic")
    yield source
    source.stop()


def test_runner_streams_chunks_and_updates(synthetic):
    pipeline = HopCounter(synthetic.info.sfreq)
    runner = StreamRunner(synthetic, pipeline)
    seen = Collector(runner)
    runner.start()
    assert runner.running
    assert wait_for(lambda: len(seen.updates) >= 10)
    runner.stop()
    assert not runner.running
    kinds = seen.kinds()
    assert kinds[0] == "started" and kinds[-1] == "stopped"
    assert "error" not in kinds
    assert pipeline.gaps == 0
    firsts = [c.first_sample for c in seen.chunks]
    assert firsts == list(np.cumsum([0] + [c.n_samples for c in seen.chunks[:-1]]))
    assert runner.samples == seen.samples() == pipeline.seen
    assert runner.t == pytest.approx(runner.samples / synthetic.info.sfreq)
    assert runner.updates == len(seen.updates)
    assert all(0.0 <= u.focus <= 1.0 for u in seen.updates)
    ts = [u.t for u in seen.updates]
    assert ts == sorted(ts)
    # stop() released the board: a new synthetic session opens in this process.
    again = open_board("synthetic")
    again.start()
    again.stop()


def test_stop_is_idempotent_and_start_runs_once(synthetic):
    runner = StreamRunner(synthetic, HopCounter(synthetic.info.sfreq))
    runner.stop()  # before start: nothing to do
    seen = Collector(runner)
    runner.start()
    runner.stop()
    runner.stop()
    assert seen.kinds().count("stopped") == 1
    assert runner.join(1.0)
    with pytest.raises(RuntimeError, match="already started"):
        runner.start()


def test_bad_arguments():
    source = open_board("synthetic")
    pipeline = HopCounter(source.info.sfreq)
    with pytest.raises(ValueError, match="stall_s"):
        StreamRunner(source, pipeline, stall_s=0)
    with pytest.raises(ValueError, match="retry_max_s"):
        StreamRunner(source, pipeline, retry_initial_s=2, retry_max_s=1)
    with pytest.raises(ValueError, match="process"):
        StreamRunner(source, object())
    runner = StreamRunner(source, pipeline)
    with pytest.raises(ValueError, match="kind"):
        runner.mark("")
    with pytest.raises(ValueError, match="callable"):
        runner.add_update_listener(None)


def test_backoff_doubles_up_to_the_cap():
    waits = [backoff_s(k, initial_s=0.5, max_s=8.0) for k in range(1, 9)]
    assert waits[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert waits[5:] == [8.0] * 3
    with pytest.raises(ValueError):
        backoff_s(0, initial_s=0.5, max_s=8.0)


def test_markers_use_the_stream_clock(synthetic):
    runner = StreamRunner(synthetic, HopCounter(synthetic.info.sfreq))
    seen = Collector(runner)
    early = runner.mark("note", "before start")  # not running: delivered at once
    assert early.t == 0.0 and seen.markers == [early]
    rewards: list[Marker] = []

    def reward_on_update(update: Update) -> None:
        if not rewards:
            rewards.append(runner.mark("reward", "from a listener", 1.0))

    runner.add_update_listener(reward_on_update)
    runner.start()
    assert wait_for(lambda: runner.samples >= 100)
    block = runner.mark("block_start", "rest")
    assert block.t >= 100 / synthetic.info.sfreq
    assert block.t <= runner.t
    assert wait_for(lambda: block in seen.markers)
    runner.stop()
    end = runner.mark("session_end")
    assert end.t == pytest.approx(runner.t)
    assert rewards and rewards[0] in seen.markers and rewards[0].value == 1.0
    assert seen.markers[-1] == end
    assert [m.kind for m in seen.markers].count("block_start") == 1


def test_listener_errors_are_reported_not_fatal(synthetic, caplog):
    runner = StreamRunner(synthetic, HopCounter(synthetic.info.sfreq))
    seen = Collector(runner)

    def broken(update: Update) -> None:
        raise RuntimeError("listener bug")

    runner.add_update_listener(broken)
    runner.start()
    assert wait_for(lambda: "error" in seen.kinds())
    n = seen.samples()
    assert wait_for(lambda: seen.samples() > n + 50)  # still streaming
    assert runner.running
    runner.stop()
    errors = [e for e in seen.status if e.kind == "error"]
    assert "listener bug" in errors[0].message
    # Reported once per few seconds, not once per update.
    assert len(errors) < runner.errors
    assert "listener bug" in caplog.text


def test_pipeline_errors_are_reported_not_fatal(synthetic):
    class Broken(HopCounter):
        def process(self, chunk: Chunk) -> list[Update]:
            raise ValueError("pipeline bug")

    runner = StreamRunner(synthetic, Broken(synthetic.info.sfreq))
    seen = Collector(runner)
    runner.start()
    assert wait_for(lambda: "error" in seen.kinds())
    n = seen.samples()
    assert wait_for(lambda: seen.samples() > n)
    runner.stop()
    assert any("pipeline bug" in e.message for e in seen.status if e.kind == "error")
    assert seen.kinds()[-1] == "stopped"


def test_missing_device_fails_start_cleanly():
    cyton = open_board("cyton", serial_port="/dev/neurofb-no-such-port", timeout=1)
    runner = StreamRunner(cyton, HopCounter(cyton.info.sfreq))
    seen = Collector(runner)
    with pytest.raises(BoardError, match="could not open cyton"):
        runner.start()
    assert not runner.running
    assert seen.kinds() == ["error", "stopped"]


def test_missing_device_without_waiting_reports_an_event():
    cyton = open_board("cyton", serial_port="/dev/neurofb-no-such-port", timeout=1)
    runner = StreamRunner(cyton, HopCounter(cyton.info.sfreq))
    seen = Collector(runner)
    runner.start(wait=False)
    assert runner.join(20)
    assert seen.kinds() == ["error", "stopped"]
    assert "no-such-port" in seen.status[0].message


def test_playback_ends_the_stream(tmp_path):
    path = tmp_path / "short.csv"
    data = record_synthetic_csv(path, 0.5)
    source = open_board("playback", file=path)
    runner = StreamRunner(source, HopCounter(source.info.sfreq))
    seen = Collector(runner)
    runner.start()
    assert runner.join(30)
    assert seen.kinds()[-2:] == ["ended", "stopped"]
    assert runner.samples == data.shape[1]



@pytest.mark.parametrize("damage", ["short line", "header", "letters", "timestamp"])
def test_a_damaged_playback_file_is_refused_before_it_plays(tmp_path, damage):
    """A short line: BrainFlow skips it, the file never reached its end, and the stall's
    reconnect played it again from the start into the same recording. A header: played as a
    sample of zeros."""
    path = tmp_path / "damaged.csv"
    record_synthetic_csv(path, 0.5)
    lines = path.read_text().splitlines(keepends=True)
    if damage == "short line":
        at = len(lines) // 2
        lines.insert(at, "1\t2\t3\n")
        expected = rf"line {at + 1} has 3 fields where the others have"
    elif damage == "header":
        lines.insert(0, "\t".join(["ts"] * len(lines[0].split("\t"))) + "\n")
        expected = "its first line is not numbers"
    elif damage == "timestamp":  # "inf" where the time goes: stalled, then exit 134
        from neurofb.boards import board_layout

        at = len(lines) // 2
        fields = lines[at].split("\t")
        fields[board_layout("synthetic").timestamp_row] = "inf"
        lines[at] = "\t".join(fields)
        expected = rf"line {at + 1} has no timestamp"
    else:  # a field of letters mid-file: BrainFlow stalled on it and the process aborted
        at = len(lines) // 2
        fields = lines[at].split("\t")
        fields[1] = "abc"
        lines[at] = "\t".join(fields)
        expected = rf"line {at + 1} is not numbers only"
    path.write_text("".join(lines))
    with pytest.raises(BoardError, match=expected):
        open_board("playback", file=path)


def test_a_playback_that_stalls_ends_and_is_never_played_again(tmp_path):
    """Whatever keeps a playback from its end, a restart would play the file from its start
    into the same stream: the stall ends the stream instead."""
    path = tmp_path / "short.csv"
    data = record_synthetic_csv(path, 1.0)
    source = open_board("playback", file=path)
    board = DyingBoard(source)  # goes silent after half the file: a stall, never an end
    half = data.shape[1] // 2
    runner = StreamRunner(board, HopCounter(source.info.sfreq), stall_s=0.3,
                          retry_initial_s=0.05, retry_max_s=0.2)
    seen = Collector(runner)
    board.silent_after = half
    runner.start()
    assert runner.join(30)
    assert seen.kinds()[-2:] == ["ended", "stopped"]
    assert "gave no more samples after" in seen.status[-2].message
    assert runner.samples <= data.shape[1] and board.restarts == 1

class DyingBoard:
    """A real synthetic board that can be made to die and come back (the allowed fake).

    ``mode``: ``"ok"``; ``"silent"`` (the board stops delivering);
    ``"error"`` (reads raise BoardError). While not ``"ok"``, restarts fail like an unplugged
    device; the test sets ``mode = "ok"`` to plug it back in.
    """

    def __init__(self, inner: BrainFlowSource) -> None:
        self.inner = inner
        self.info = inner.info
        self.mode = "ok"
        self.restarts = 0

    def start(self) -> None:
        self.inner.start()

    silent_after: int | None = None  # go silent once this many samples were delivered

    def read(self) -> Chunk | None:
        if self.mode == "error":
            raise BoardError("synthetic board unplugged")
        if self.silent_after is not None and self.inner.samples_delivered >= self.silent_after:
            self.mode = "silent"
        if self.mode == "silent":
            return None  # nothing arrives; the restart will drop what the board buffered
        return self.inner.read()

    def stop(self) -> None:
        self.inner.stop()

    def restart(self) -> None:
        self.restarts += 1
        if self.inner.info.replayed:  # a playback board says itself what a restart means
            self.inner.restart()
            return
        self.inner.stop()
        if self.mode != "ok":
            raise BoardError("could not open synthetic: device not found")
        self.inner.start()


@pytest.mark.parametrize("failure", ["silent", "error"])
def test_board_dies_and_comes_back(synthetic, failure):
    board = DyingBoard(synthetic)
    pipeline = HopCounter(synthetic.info.sfreq)
    runner = StreamRunner(board, pipeline, stall_s=0.3, retry_initial_s=0.05, retry_max_s=0.2)
    seen = Collector(runner)
    runner.start()
    assert wait_for(lambda: len(seen.updates) >= 4)
    board.mode = failure
    assert wait_for(lambda: seen.kinds().count("reconnecting") >= 3)
    assert runner.running
    n_chunks, n_updates = len(seen.chunks), len(seen.updates)
    board.mode = "ok"  # plugged back in
    assert wait_for(lambda: "resumed" in seen.kinds())
    assert wait_for(lambda: len(seen.updates) >= n_updates + 4)
    runner.stop()
    kinds = seen.kinds()
    if failure == "silent":
        assert kinds.index("stalled") < kinds.index("reconnecting")
    assert kinds.index("reconnecting") < kinds.index("resumed")
    assert kinds[-1] == "stopped"
    assert board.restarts >= 3
    assert len(seen.chunks) > n_chunks
    # The stream clock and the pipeline's sample count go on without a gap in first_sample.
    assert pipeline.gaps == 0
    marker_kinds = [m.kind for m in seen.markers]
    assert marker_kinds == ["disconnect", "reconnect"]
    disconnect, reconnect = seen.markers
    assert disconnect.t <= reconnect.t <= runner.t
    assert reconnect.value > 0
