"""The exercise state machines, driven by the real reward controller."""

from __future__ import annotations

import numpy as np
import pytest
from feedback_helpers import ar1, updates

from neurofb.practice.exercises import (
    EXERCISES,
    Calibration,
    CalibrationView,
    Clarity,
    FocusGauge,
    GaugeView,
    Rocket,
    make_exercise,
)
from neurofb.practice.reward import RewardConfig, RewardController
from neurofb.recording.labels import LABELS, labelled_blocks

HOP = 0.25
FIXED = RewardConfig(adaptive=False, initial_threshold=0.5)


def drive(exercise, focus, *, config=FIXED, hop=HOP, t0=0.0, pause=None):
    """Step ``exercise`` with focus values; ``pause=(i, j)`` pauses steps i..j-1."""
    ctl = RewardController(config)
    views, states = [], []
    for i, u in enumerate(updates(focus, hop=hop, t0=t0)):
        if pause and i == pause[0]:
            ctl.pause()
        if pause and i == pause[1]:
            ctl.resume()
        states.append(ctl.step(u))
        views.append(exercise.step(states[-1]))
    return views, states


def markers_of(views):
    return [m for v in views for m in v.markers]


# -- the session clock (common to all) ------------------------------------------------------
@pytest.mark.parametrize("name", ["gauge", "rocket", "clarity"])
def test_exercise_runs_its_duration_and_marks_start_and_end(name):
    ex = make_exercise(name, duration_s=10.0)
    t0, hop = 3.1, 0.3
    views, _ = drive(ex, [0.7] * 60, hop=hop, t0=t0)
    marks = markers_of(views)
    assert [(m.kind, m.label) for m in marks] == [("block_start", name), ("block_end", name)]
    assert marks[0].t == t0 and marks[1].t == pytest.approx(t0 + 10.0)
    done = [v.done for v in views]
    first_done = done.index(True)
    assert all(done[first_done:]) and not any(done[:first_done])
    assert views[first_done].t >= t0 + 10.0 > views[first_done - 1].t
    assert views[-1].remaining_s == 0 and views[-1].progress == 1.0
    progress = [v.progress for v in views]
    assert progress == sorted(progress) and progress[0] == 0.0
    assert ex.finish() == ()  # already over


def test_paused_time_does_not_count_and_finish_closes_early():
    ex = FocusGauge(duration_s=5.0)
    views, _ = drive(ex, [0.7] * 40, pause=(4, 14))
    assert all(v.paused and v.message == "Paused" for v in views[4:14])
    assert {v.elapsed_s for v in views[4:14]} == {views[3].elapsed_s}
    end = markers_of(views)[-1]
    assert end.kind == "block_end" and end.t == pytest.approx(5.0 + 10 * HOP)

    ex = FocusGauge(duration_s=None)
    views, _ = drive(ex, [0.7] * 8)
    assert views[-1].remaining_s is None and views[-1].progress is None and not views[-1].done
    closing = ex.finish()
    assert [(m.kind, m.label, m.t) for m in closing] == [("block_end", "gauge", views[-1].t)]
    assert ex.done and ex.view.done and ex.finish() == ()

    ex = FocusGauge()  # ended before its first step: stays ended, marks nothing
    assert ex.finish() == ()
    views, _ = drive(ex, [0.7] * 3)
    assert all(v.done and not v.markers for v in views)


# -- gauge ---------------------------------------------------------------------------------
def test_gauge_shows_hold_reward_flash_and_gating():
    ex = FocusGauge(duration_s=None, min_hold_s=0.5, flash_s=0.75)
    views, states = drive(ex, [0.2, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, None, 0.8])
    assert all(isinstance(v, GaugeView) for v in views)
    assert [v.hold_fraction for v in views[:4]] == [0.0, 0.0, 0.5, 1.0]
    reward = next(i for i, v in enumerate(views) if v.reward)
    assert reward == 3 and states[3].reward
    assert [v.flash for v in views[reward:reward + 4]] == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0])
    assert views[7].gated and views[7].focus is None and views[7].message.startswith("Signal:")
    assert not views[7].on_target and views[7].hold_fraction == 0.0
    assert views[-1].points == states[-1].points and views[-1].threshold == 0.5


def test_gauge_says_what_each_reward_added_not_the_running_total():
    ex = FocusGauge(duration_s=None, min_hold_s=0.0)
    views, states = drive(ex, [0.8] * 12)
    rewarded = [(v, s) for v, s in zip(views, states, strict=True) if v.reward]
    assert len(rewarded) >= 2
    for v, s in rewarded:
        assert v.points_awarded == s.points_awarded > 0
    last = rewarded[-1][0]
    assert last.points_awarded < last.points  # the step's points, not the session's
    assert all(v.points_awarded == 0 for v in views if not v.reward)


# -- rocket --------------------------------------------------------------------------------
def test_rocket_climbs_on_target_sinks_off_and_collects_stars():
    ex = Rocket(duration_s=None, climb_per_s=0.05, sink_per_s=0.04, inertia_s=0.5)
    views, states = drive(ex, [0.8] * int(40 / HOP) + [0.2] * int(40 / HOP))
    alt = np.array([v.altitude for v in views])
    half = int(40 / HOP)
    assert np.all(np.diff(alt[:half]) >= 0) and alt[half - 1] == 1.0  # reached the top
    assert np.all(np.diff(alt[half:]) <= 0) and alt[-1] == 0.0  # back on the ground
    assert all(v.thrust for v in views[:half]) and not any(v.thrust for v in views[half:])
    assert views[-1].stars == states[-1].rewards > 0
    assert [v.new_star for v in views] == [s.reward for s in states]
    assert views[-1].best_altitude == 1.0
    # Inertia: the climb speed builds up rather than jumping.
    assert 0 < views[1].velocity < views[4].velocity <= 0.05


def test_rocket_stays_in_bounds_and_artifacts_give_no_thrust():
    rng = np.random.default_rng(3)
    focus = ar1(2000, mean=0.5, sd=0.2, phi=0.95, seed=3).astype(object)
    focus[rng.random(2000) < 0.15] = None
    views, _ = drive(Rocket(duration_s=None), list(focus), config=RewardConfig())
    alt = np.array([v.altitude for v in views])
    assert alt.min() >= 0.0 and alt.max() <= 1.0 and alt.max() > 0.1
    assert not any(v.thrust for v in views if v.gated)


# -- clarity -------------------------------------------------------------------------------
def test_clarity_sharpens_with_focus_and_fades_when_it_drops_or_is_gated():
    ex = Clarity(duration_s=None, softness=0.05, rise_s=1.5, fall_s=3.0, min_brightness=0.3)
    n = int(20 / HOP)
    views, _ = drive(ex, [0.8] * n + [0.2] * n + [0.8] * n + [None] * n)
    c = np.array([v.clarity for v in views])
    assert c[n - 1] > 0.95 and c[2 * n - 1] < 0.05 and c[3 * n - 1] > 0.95 and c[-1] < 0.05
    # Smooth: one step moves clarity by at most the smoothing fraction of the gap.
    assert np.abs(np.diff(c)).max() <= 1 - np.exp(-HOP / 1.5) + 1e-12
    assert all(v.blur == pytest.approx(1 - v.clarity) for v in views)
    assert all(0.3 - 1e-12 <= v.brightness <= 1.0 for v in views)
    assert views[n - 1].brightness == pytest.approx(0.3 + 0.7 * c[n - 1])
    # The target is 1/2 exactly at the threshold.
    ex2 = Clarity(duration_s=None)
    assert drive(ex2, [0.5])[0][0].target == pytest.approx(0.5)


# -- calibration ---------------------------------------------------------------------------
def test_calibration_marks_labelled_blocks_at_exact_times():
    ex = Calibration(blocks=("rest", "task", "rest", "task"), block_s=30.0, ready_s=5.0, seed=1)
    t0, hop = 0.1, 0.3  # boundaries fall between updates
    views, states = drive(ex, [0.5] * 600, config=RewardConfig(rewards=False), hop=hop, t0=t0)
    marks = markers_of(views)
    blocks = labelled_blocks(marks)
    assert [b.label for b in blocks] == ["rest", "task", "rest", "task"]
    assert [b.y for b in blocks] == [LABELS["rest"], LABELS["task"]] * 2
    for i, b in enumerate(blocks):
        assert b.start_s == pytest.approx(t0 + i * 35.0 + 5.0)
        assert b.end_s - b.start_s == pytest.approx(30.0)
    assert marks[0].label == marks[-1].label == "calibration"
    assert marks[-1].t == pytest.approx(t0 + 140.0) and ex.duration_s == 140.0
    assert not any(s.reward for s in states)
    phases = [v.phase for v in views if not v.done]
    assert phases[0] == "ready" and {"ready", "rest", "task"} == set(phases)
    assert views[-1].phase == "done" and views[-1].done


def test_calibration_instructions_and_subtraction_numbers():
    ex = Calibration(block_s=10.0, ready_s=2.0, seed=7)
    views, _ = drive(ex, [0.5] * 200, config=RewardConfig(rewards=False))
    tasks = [v for v in views if isinstance(v, CalibrationView) and v.phase == "task"]
    assert {(v.task_start, v.task_step) for v in tasks} == {ex.tasks[1], ex.tasks[3]}
    for v in tasks:
        assert 1000 <= v.task_start <= 9999 and 11 <= v.task_step <= 99 and v.task_step % 10
        assert f"Count down from {v.task_start} in steps of {v.task_step}" == v.instruction
        assert str(v.task_start - v.task_step) in v.detail
        assert v.recording_label == "task"
    rests = [v for v in views if v.phase == "rest"]
    assert rests and all(v.task_start is None and v.recording_label == "rest" for v in rests)
    ready = [v for v in views if v.phase == "ready"]
    assert all(v.recording_label is None for v in ready)
    assert {v.instruction for v in ready} == {"Get ready to relax", "Get ready to count"}
    # Time left counts down inside a phase; the same seed gives the same numbers.
    first = [v.phase_left_s for v in views if v.phase == "rest" and v.block_index == 0]
    assert first == sorted(first, reverse=True) and first[0] <= 10.0
    assert Calibration(seed=7).tasks == Calibration(seed=7).tasks
    assert len(set(Calibration(seed=8, blocks=("task",) * 6).tasks)) > 1


def test_calibration_pause_never_labels_paused_time():
    ex = Calibration(blocks=("rest", "task"), block_s=10.0, ready_s=0.0)
    pause = (50, 70)  # during the task block (10 s .. 20 s)
    views, _ = drive(ex, [0.5] * 200, config=RewardConfig(rewards=False), pause=pause)
    blocks = labelled_blocks(markers_of(views))
    assert [b.label for b in blocks] == ["rest", "task", "task"]
    assert sum(b.end_s - b.start_s for b in blocks if b.label == "task") == pytest.approx(10.0)
    paused_t = [v.t for v in views[pause[0]:pause[1] - 1]]
    assert not any(b.start_s < t < b.end_s for b in blocks for t in paused_t)
    assert all(v.recording_label is None for v in views[pause[0]:pause[1]])


def test_calibration_finished_early_closes_its_block():
    ex = Calibration(blocks=("rest", "task"), block_s=10.0, ready_s=2.0)
    views, _ = drive(ex, [0.5] * 20, config=RewardConfig(rewards=False))
    marks = markers_of(views) + list(ex.finish())
    blocks = labelled_blocks(marks)
    assert [b.label for b in blocks] == ["rest"] and blocks[0].end_s == views[-1].t
    assert marks[-1].kind == "block_end" and marks[-1].label == "calibration"


# -- registry and bad input ----------------------------------------------------------------
def test_registry_lists_every_exercise():
    assert set(EXERCISES) == {"gauge", "rocket", "clarity", "calibration"}
    for name, info in EXERCISES.items():
        ex = make_exercise(name)
        assert ex.name == info.name == name and info.title and info.description
        assert info.uses_feedback == (name != "calibration") == ex.uses_feedback
        assert info.duration_s == ex.duration_s > 0
    assert make_exercise("rocket", duration_s=60.0).duration_s == 60.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: make_exercise("tetris"), "unknown exercise 'tetris'; choose one of gauge"),
        (lambda: make_exercise("calibration", duration_s=60), "does not take duration_s"),
        (lambda: FocusGauge(duration_s=0), "duration_s"),
        (lambda: Rocket(climb_per_s=-1), "climb_per_s"),
        (lambda: Clarity(min_brightness=2), "min_brightness"),
        (lambda: Calibration(blocks=("rest", "sleep")), "'rest' or 'task'"),
        (lambda: Calibration(blocks=()), "at least one block"),
    ],
)
def test_bad_options_are_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()
