"""Baseline mode in a practice session: the guided rest, then the exercise — on real EEG through
the engine's own stream (the demo recording: 60 s of rest first), as the app runs it."""

from __future__ import annotations

import re

import pytest

from neurofb import paths
from neurofb.practice.exercises import FocusGauge
from neurofb.practice.rest import REST_LABEL, RestBaseline, RestView
from neurofb.practice.session import PracticeSession
from neurofb.stream.assemble import ReplayRequest, StreamRequest, open_stream

DEMO = paths.shipped_recordings_dir() / "demo-eegmat"


def _session(rest_s: float, *, target: str | None = None, skip_after: int | None = None,
             seconds: float = 75.0):
    # paced (small chunks, as a headset delivers them): a request from the session reaches the
    # pipeline before the next chunk
    request = StreamRequest(ReplayRequest(DEMO, speed=60.0, seconds=seconds), target=target)
    with open_stream(request) as stream:
        session = PracticeSession(stream.runner, FocusGauge(duration_s=None), rest_s=rest_s,
                                  baseline=stream)
        steps = []

        def keep(step):
            steps.append(step)
            if len(steps) == 1:  # where the stream is when the session asks for the baseline
                # (the listener runs after the pipeline took the whole chunk of this update)
                session.asked_at_s = stream.pipeline.n_samples / stream.pipeline.sfreq
                session.hop_s = stream.pipeline.hop_samples / stream.pipeline.sfreq
            if skip_after is not None and len(steps) == skip_after:
                session.skip_rest()

        session.add_step_listener(keep)
        session.start()
        stream.run()
        session.finish()
    return session, steps


def test_the_session_rests_until_the_model_has_its_baseline_then_trains():
    session, steps = _session(40.0)
    rest = [s for s in steps if isinstance(s.view, RestView)]
    rest_t = [s.update.t for s in rest]
    assert rest and rest[0].view.state == "resting" and rest[-1].view.state == "taken"
    assert rest[-1].update.mode == "baseline"  # the first window of the baseline model
    # the rest is the 40 s of stream after the request (which comes with the first update, at
    # the end of its chunk: how long that chunk is depends on the machine's load); the first
    # window past them is the baseline model's (windows end a hop apart: 63 samples at 250 Hz)
    assert rest_t[0] <= session.asked_at_s
    assert 40.0 < rest_t[-1] - session.asked_at_s <= 40.0 + session.hop_s
    # the windows the pipeline scored before the session's request reached it are cold (under
    # load, a chunk or two); from then on every window of the rest feeds the baseline
    modes = [s.update.mode for s in rest[:-1] if s.update.focus is not None]
    first_rest = modes.index("rest")
    assert set(modes[:first_rest]) <= {"cold"} and set(modes[first_rest:]) == {"rest"}
    assert all(s.feedback.paused and not s.feedback.reward for s in rest)  # no rewards
    after = steps[len(rest):]
    assert after and all(s.view.name == "gauge" for s in after)
    assert {s.update.mode for s in after if s.update.focus is not None} == {"baseline"}
    kinds = [(m.kind, m.label) for m in session.markers]
    assert kinds[:1] == [("block_start", REST_LABEL)]
    assert ("block_end", REST_LABEL) in kinds and ("baseline", "taken") in kinds
    assert kinds.index(("baseline", "taken")) < kinds.index(("block_start", "gauge"))
    assert rest[-1].view.clean_s > 30.0


def test_a_second_session_on_the_same_stream_rests_again():
    """The app's second session on one connection: its rest is a rest of its own (the first
    session's baseline must not read as "taken" at once), and its exercise is scored on it."""
    request = StreamRequest(ReplayRequest(DEMO, speed=60.0, seconds=120.0))
    sessions: list[PracticeSession] = []
    steps: list[list] = [[], []]
    with open_stream(request) as stream:
        def begin(k: int) -> None:
            session = PracticeSession(stream.runner, FocusGauge(duration_s=12.0), rest_s=20.0,
                                      baseline=stream)
            session.add_step_listener(steps[k].append)
            if k == 0:  # the second session starts when the first ends, on the same stream
                session.add_done_listener(lambda _summary: begin(1))
            sessions.append(session)
            session.start()

        begin(0)
        stream.run()
    assert len(sessions) == 2 and all(s.done for s in sessions)
    for k, session in enumerate(sessions):
        rest = [s for s in steps[k] if isinstance(s.view, RestView)]
        assert rest[-1].view.state == "taken", k
        assert rest[-1].update.t - rest[0].update.t >= 20.0 - 0.5, k  # a whole rest, again
        assert rest[-1].view.clean_s > 15.0, k
        after = [s for s in steps[k][len(rest):] if s.update.focus is not None]
        assert after and {s.update.mode for s in after} == {"baseline"}, k
        kinds = [(m.kind, m.label) for m in session.markers]
        assert kinds.count(("baseline", "taken")) == 1, k


def test_a_session_ended_during_its_rest_leaves_the_stream_cold():
    """Ended (or its window closed) during the rest: nothing of that rest becomes a baseline;
    the stream goes back to cold mode, as after Skip."""
    request = StreamRequest(ReplayRequest(DEMO, speed=60.0, seconds=70.0))
    modes: list[str] = []
    with open_stream(request) as stream:
        session = PracticeSession(stream.runner, FocusGauge(duration_s=None), rest_s=20.0,
                                  baseline=stream)

        def end_early(step) -> None:
            if len(session.markers) and step.update.t > 8.0 and not session.done:
                session.finish()

        session.add_step_listener(end_early)
        stream.runner.add_update_listener(lambda u: modes.append(u.mode))
        session.start()
        stream.run()
    assert session.done and ("baseline", "skipped") in [(m.kind, m.label)
                                                        for m in session.markers]
    later = [m for m in modes[-150:] if m]  # the last ~37 s of stream, long after the rest
    assert later and set(later) == {"cold"}



def test_a_session_without_a_rest_after_one_with_it_runs_cold():
    """Baseline switched off for the second session on one connection: its exercise was scored
    on the first session's rest (every update "baseline") while its summary said cold mode."""
    request = StreamRequest(ReplayRequest(DEMO, speed=60.0, seconds=90.0))
    sessions: list[PracticeSession] = []
    steps: list[list] = [[], []]
    with open_stream(request) as stream:
        def begin(k: int) -> None:
            gauge = FocusGauge(duration_s=20.0 if k == 0 else 30.0)
            session = PracticeSession(stream.runner, gauge, rest_s=20.0 if k == 0 else 0.0,
                                      baseline=stream)
            session.add_step_listener(steps[k].append)
            if k == 0:
                session.add_done_listener(lambda _summary: begin(1))
            sessions.append(session)
            session.start()

        begin(0)
        stream.run()
    assert len(sessions) == 2 and all(s.done for s in sessions)
    first = [s.update.mode for s in steps[0] if s.view.name == "gauge" and s.update.focus]
    assert first and set(first) == {"baseline"}  # the first session had its rest
    second = [s.update.mode for s in steps[1] if s.update.focus is not None]
    assert second and set(second[4:]) == {"cold"}  # once the request reached the model


def test_a_rest_given_up_on_is_not_taken_later():
    """A rest that timed out (no answer within its grace) said "failed … cold mode" while the
    stream went on to take it at its next clean window and score the session on it."""
    request = StreamRequest(ReplayRequest(DEMO, speed=60.0, seconds=60.0))
    with open_stream(request) as stream:
        session = PracticeSession(stream.runner, FocusGauge(duration_s=None), rest_s=20.0,
                                  baseline=stream)
        session.rest.grace_s = 0.0
        steps: list = []
        session.add_step_listener(steps.append)
        first = []

        def fail_early(step) -> None:  # the rest's clock runs out before the model answers
            if not first:
                first.append(step.update.t)
                session.rest.rest_s = 1.0

        session.add_step_listener(fail_early)
        session.start()
        stream.run()
        session.finish()
    assert ("baseline", "failed") in [(m.kind, m.label) for m in session.markers]
    after = [s.update.mode for s in steps if s.view.name == "gauge" and s.update.focus]
    assert len(after) > 20 and "baseline" not in after and set(after[8:]) == {"cold"}


def test_a_rest_at_full_speed_is_counted_from_when_the_stream_takes_it():
    """`--speed max`: the pipeline has scored updates ahead, the stream's rest starts after
    them; counted from the first update, the rest timed out while the model took it."""
    request = StreamRequest(ReplayRequest(DEMO, speed=None, seconds=150.0))
    with open_stream(request) as stream:
        session = PracticeSession(stream.runner, FocusGauge(duration_s=None), rest_s=40.0,
                                  baseline=stream)
        steps: list = []
        session.add_step_listener(steps.append)
        session.start()
        stream.run()
        session.finish()
    rest = [s for s in steps if isinstance(s.view, RestView)]
    assert rest[-1].view.state == "taken", rest[-1].view.message
    assert rest[-1].update.t - session.rest.after_t >= 40.0
    after = [s.update.mode for s in steps[len(rest):] if s.update.focus is not None]
    assert after and set(after) == {"baseline"}

def test_skipping_the_rest_runs_the_session_cold():
    session, steps = _session(40.0, skip_after=10, seconds=30.0)
    assert ("baseline", "skipped") in [(m.kind, m.label) for m in session.markers]
    later = [s for s in steps[12:] if s.update.focus is not None]
    assert later and all(s.view.name == "gauge" for s in later)
    assert {s.update.mode for s in later[8:]} == {"cold"}  # once the request reached the model


def test_a_band_power_target_has_no_baseline_mode():
    session, steps = _session(40.0, target="engagement", seconds=10.0)
    assert steps[0].view.state == "unavailable"
    assert ("baseline", "unavailable") in [(m.kind, m.label) for m in session.markers]
    assert all(s.view.name == "gauge" for s in steps[1:])


def test_rest_baseline_state_machine_edges():
    with pytest.raises(ValueError, match="rest_s"):
        RestBaseline(0.0)
    with pytest.raises(ValueError, match="baseline="):
        PracticeSession(None, FocusGauge(), rest_s=60.0)
    rest = RestBaseline(60.0)
    assert rest.skip() == () and rest.state == "skipped"  # before any update: nothing to close
    with pytest.raises(ValueError, match="skipped or unavailable"):
        RestBaseline(60.0).skip(1.0, state="taken")


def test_replay_with_baseline_on_the_command_line(tmp_path, capsys):
    """``neurofb replay --baseline 60``: the first 60 s re-centre the model, the summary says so,
    and the trace is the same as the engine's replay in baseline mode."""
    from neurofb.cli import main
    from neurofb.config import EngineConfig
    from neurofb.recording.trace import trace_stats
    from neurofb.stream.assemble import replay

    trace = tmp_path / "t.csv"
    assert main(["replay", str(DEMO), "--speed", "max", "--seconds", "75", "--baseline", "60",
                 "--trace", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "baseline mode: the first 60 s were the rest baseline" in out
    updates = replay(DEMO, seconds=75, config=EngineConfig(model_baseline_s=60.0))
    modes = [u.mode for u in updates if u.focus is not None]
    assert modes[0] == "rest" and modes[-1] == "baseline"
    stats = trace_stats(trace)
    assert stats.rows == len(updates)
    assert main(["replay", str(DEMO), "--speed", "max", "--seconds", "5", "--baseline", "60",
                 "--target", "engagement"]) == 2
    assert "band-power targets" in capsys.readouterr().err


def test_a_baseline_too_short_for_the_model_says_what_it_needs(capsys):
    """5 s of rest at a 0.25 s hop is a dozen windows, fewer than the model's 20: the summary said
    "too little clean signal" of a clean signal; it now names the minimum and what gives more."""
    from neurofb.cli import main

    assert main(["replay", str(DEMO), "--speed", "max", "--seconds", "20", "--baseline", "5"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"baseline mode: not taken: the first 5 s gave 1\d windows, too few clean "
                     r"ones; the model needs 20 clean windows: a longer --baseline, or a "
                     r"shorter --hop, gives more; scored in cold mode", out), out
