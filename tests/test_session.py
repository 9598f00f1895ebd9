"""Training sessions end to end: real EEG replayed through the runner and pipeline, recorded with
the real writer and read back; the live synthetic board with markers through ``runner.mark``."""

from __future__ import annotations

import threading

import pytest
from feedback_helpers import updates

from neurofb.config import EngineConfig
from neurofb.library.summary import summarise_recording
from neurofb.practice.exercises import Calibration, FocusGauge, Rocket
from neurofb.practice.reward import RewardConfig
from neurofb.practice.session import PracticeSession
from neurofb.recording import RecordingWriter, open_recording
from neurofb.recording.labels import labelled_blocks
from neurofb.stream.brainflow import open_board
from neurofb.stream.pipeline import Pipeline
from neurofb.stream.replay import ReplaySource
from neurofb.stream.runner import StreamRunner

ENGINE = EngineConfig(baseline_s=5.0)


def replay_session(edf, exercise, folder, config=None):
    """Replay ``edf`` at full speed into ``exercise``, recording everything in ``folder``."""
    source = ReplaySource(edf, speed=None)
    runner = StreamRunner(source, Pipeline(source.info, config=ENGINE))
    writer = RecordingWriter(folder, source.info, meta={"exercise": exercise.name})
    runner.add_chunk_listener(writer.write_chunk)
    runner.add_update_listener(writer.write_update)
    session = PracticeSession(runner, exercise, config, recorder=writer)
    steps, summaries = [], []
    session.add_step_listener(steps.append)
    session.add_done_listener(summaries.append)
    session.start()
    runner.start()
    assert runner.join(timeout=120), "replay did not finish"
    writer.close(summary=session.session_summary(user="tester").to_dict())
    return session, steps, summaries, open_recording(folder)


def test_gauge_on_real_eeg_is_recorded_and_matches_the_library_summary(eegmat_dir, tmp_path):
    session, steps, summaries, rec = replay_session(
        eegmat_dir / "Subject00_1.edf", FocusGauge(duration_s=120.0), tmp_path / "gauge"
    )
    assert session.done and len(summaries) == 1
    summary = summaries[0]
    # Every marker of the session reached the recording with its exact time.
    assert [(m.kind, m.label, m.value) for m in rec.markers] == [
        (m.kind, m.label, m.value) for m in session.markers
    ]
    assert [m.t for m in rec.markers] == pytest.approx([m.t for m in session.markers])
    (block,) = [b for b in summary.blocks if b.label == "gauge"]
    assert block.end_t - block.start_t == pytest.approx(120.0)
    rewards = [s for s in steps if s.feedback.reward]
    assert rewards and all(s.feedback.on_target and not s.feedback.gated for s in rewards)
    assert summary.rewards == len(rewards) == sum(m.kind == "reward" for m in rec.markers)
    # Real EEG: the adaptive threshold holds the on-target fraction near the 65 % target.
    assert abs(summary.on_target_fraction - 0.65) < 0.1
    # The library's summary, computed independently from the recorded trace and markers.
    lib = summarise_recording(rec)
    assert (lib.rewards, lib.points) == (summary.rewards, summary.points)
    assert lib.block_focus["gauge"] == pytest.approx(block.mean_focus, abs=1e-5)
    step = session.controller.config.threshold_event_step
    assert abs(lib.threshold - summary.threshold_end) < step
    row = session.session_summary(user="tester")
    assert (row.exercise, row.rewards, row.user) == ("gauge", summary.rewards, "tester")
    assert rec.meta["summary"]["points"] == summary.points


def test_calibration_on_real_eeg_labels_the_recording(eegmat_dir, tmp_path):
    exercise = Calibration(block_s=10.0, ready_s=2.0, seed=0)
    session, steps, _, rec = replay_session(
        eegmat_dir / "Subject00_2.edf", exercise, tmp_path / "calib", RewardConfig()
    )
    blocks = labelled_blocks(rec.markers, end_s=rec.duration_s)
    assert [(b.label, b.y) for b in blocks] == [("rest", 0), ("task", 1), ("rest", 0), ("task", 1)]
    assert all(b.end_s - b.start_s == pytest.approx(10.0) for b in blocks)
    assert not any(m.kind in ("reward", "threshold") for m in rec.markers)
    assert not session.controller.config.rewards
    row = session.session_summary()
    assert set(row.block_focus) <= {"calibration", "rest", "task", "rest 2", "task 2"}
    assert {"rest", "task"} <= set(row.block_focus) and row.threshold is None
    instructions = {s.view.instruction for s in steps if s.view.phase == "task"}
    assert instructions == {f"Count down from {a} in steps of {b}"
                            for a, b in (exercise.tasks[1], exercise.tasks[3])}


def test_live_synthetic_board_session_marks_through_the_runner():
    source = open_board("synthetic")
    runner = StreamRunner(source, Pipeline(source.info, config=EngineConfig(baseline_s=2.0)))
    marked = []
    runner.add_marker_listener(marked.append)
    session = PracticeSession(runner, Rocket(duration_s=3.0))
    done = threading.Event()
    steps = []
    session.add_step_listener(steps.append)
    session.add_done_listener(lambda summary: done.set())
    runner.start()
    try:
        session.start()
        assert done.wait(60), "the session did not end"
    finally:
        runner.stop()
    kinds = [(m.kind, m.label) for m in marked]
    assert ("block_start", "rocket") in kinds and ("block_end", "rocket") in kinds
    assert sum(k == "reward" for k, _ in kinds) == session.summary().rewards
    assert steps[-1].view.done and steps[-1].view.elapsed_s == pytest.approx(3.0)
    assert not any(s.feedback.reward for s in steps if s.feedback.gated)
    assert session.feed(steps[-1].update) is None  # ended: further updates are ignored


def test_headless_pause_resume_and_finish():
    session = PracticeSession(None, FocusGauge(duration_s=None), RewardConfig(warmup_s=0.0))
    ended = []
    session.add_done_listener(ended.append)
    ups = updates([0.9] * 60)
    session.pause()  # before the first update: nothing to mark, and it holds
    session.resume()
    assert session.markers == []
    first = [session.feed(u) for u in ups[:20]]
    session.pause()
    session.pause()  # a second Pause is not a second pause
    paused = [session.feed(u) for u in ups[20:40]]
    session.resume()
    session.resume()
    after = [session.feed(u) for u in ups[40:]]
    # the recording shows the paused stretch: marked at the last update before each click
    marks = [(m.kind, m.t) for m in session.markers if m.kind in ("pause", "resume")]
    assert marks == [("pause", ups[19].t), ("resume", ups[39].t)]
    assert any(s.feedback.reward for s in first) and any(s.feedback.reward for s in after)
    assert all(s.view.paused and not s.feedback.reward and not s.markers for s in paused)
    summary = session.finish()
    assert session.finish() == summary and len(ended) == 1
    assert session.markers[-1].kind == "block_end" and session.markers[-1].t == ups[-1].t
    assert summary.paused_s == pytest.approx(20 * 0.25)
    assert summary.rewards == sum(m.kind == "reward" for m in session.markers)
    assert session.feed(ups[-1]) is None


def test_bad_session_arguments():
    with pytest.raises(ValueError, match="no runner"):
        PracticeSession(None, FocusGauge()).start()
    used = FocusGauge()
    session = PracticeSession(None, used)
    session.feed(updates([0.5])[0])
    with pytest.raises(ValueError, match="already run"):
        PracticeSession(None, used)
    with pytest.raises(ValueError, match="must be an Exercise"):
        PracticeSession(None, "gauge")
