"""The reward logic: adaptive threshold convergence, gating, hold, refractory, streaks, pause."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from feedback_helpers import ar1, update, updates

from neurofb.practice.reward import RewardConfig, RewardController
from neurofb.types import Marker

HOP = 0.25
FIXED = dict(adaptive=False, initial_threshold=0.5, min_hold_s=0.5, refractory_s=1.5)


def run(config: RewardConfig, focus, *, hop: float = HOP):
    ctl = RewardController(config)
    return ctl, [ctl.step(u) for u in updates(focus, hop=hop)]


def reward_times(states) -> list[float]:
    return [s.t for s in states if s.reward]


# -- adaptive threshold ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "mean", "sd", "phi"),
    [
        (0.65, 0.3, 0.05, 0.9),
        (0.65, 0.5, 0.15, 0.95),
        (0.65, 0.8, 0.10, 0.98),
        (0.65, 0.6, 0.20, 0.8),
        (0.65, 0.2, 0.03, 0.99),
        (0.40, 0.5, 0.15, 0.95),
        (0.80, 0.7, 0.10, 0.9),
    ],
)
def test_on_target_rate_converges_to_target(target, mean, sd, phi):
    n = int(600 / HOP)  # ten minutes
    focus = ar1(n, mean=mean, sd=sd, phi=phi, seed=int(mean * 100 + phi * 10))
    ctl, states = run(RewardConfig(target_rate=target), focus)
    on = np.array([s.on_target for s in states])
    assert abs(on[n // 2:].mean() - target) < 0.04, on[n // 2:].mean()
    assert abs(on.mean() - target) < 0.05
    assert ctl.summary().on_target_fraction == pytest.approx(on[1:].mean(), abs=1e-9)
    # The threshold settled inside the focus distribution, not at a bound.
    assert np.quantile(focus, 0.05) < states[-1].threshold < np.quantile(focus, 0.95)
    assert states[-1].window_rate is not None and abs(states[-1].window_rate - target) < 0.3


def test_threshold_follows_a_step_in_focus():
    n = int(300 / HOP)
    low = ar1(n, mean=0.3, sd=0.08, phi=0.9, seed=5)
    high = ar1(n, mean=0.7, sd=0.08, phi=0.9, seed=6)
    _, states = run(RewardConfig(), np.concatenate([low, high]))
    settle = int(60 / HOP)
    on = np.array([s.on_target for s in states])
    assert abs(on[n + settle:].mean() - 0.65) < 0.05
    before, after = states[n - 1].threshold, states[-1].threshold
    assert before < 0.45 and after > 0.55


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_threshold_stays_within_its_bounds(value):
    cfg = RewardConfig()
    _, states = run(cfg, [value] * int(120 / HOP))
    thresholds = np.array([s.next_threshold for s in states])
    low, high = cfg.threshold_bounds
    assert thresholds.min() >= low and thresholds.max() <= high
    assert thresholds[-1] == (low if value == 0.0 else high)
    assert any(s.reward for s in states) == (value == 1.0)
    # the rate that was set cannot be kept there, and the state says so (the app shows it)
    word = "less often" if value == 0.0 else "more often"
    assert word in states[-1].limit and f"({low if value == 0.0 else high:g})" in states[-1].limit


def test_a_threshold_that_can_keep_the_rate_says_nothing():
    _, states = run(RewardConfig(), ar1(int(300 / HOP), mean=0.5, sd=0.15, phi=0.95, seed=3))
    assert all(s.limit == "" for s in states)


def test_threshold_events_report_each_move_of_at_least_the_event_step():
    cfg = RewardConfig()
    _, states = run(cfg, ar1(int(300 / HOP), mean=0.5, sd=0.15, phi=0.95, seed=1))
    events = [(s, m) for s in states for m in s.events if m.kind == "threshold"]
    assert events[0][1].t == states[0].t and events[0][1].value == cfg.initial_threshold
    values = [m.value for _, m in events]
    assert all(abs(b - a) >= cfg.threshold_event_step - 1e-9 for a, b in itertools.pairwise(values))
    assert all(m.value == s.next_threshold for s, m in events[1:])
    # Between events the threshold never drifted a full step from the last reported value.
    last = values[0]
    for s in states:
        for m in s.events:
            if m.kind == "threshold":
                last = m.value
        assert abs(s.next_threshold - last) < cfg.threshold_event_step


def test_warmup_sets_the_threshold_to_the_window_quantile():
    cfg = RewardConfig(warmup_s=10.0, target_rate=0.65)
    focus = ar1(200, mean=0.7, sd=0.1, phi=0.5, seed=3)
    _, states = run(cfg, focus)
    k = int(cfg.warmup_s / HOP)  # valid time reaches warmup_s at this update
    assert all(s.threshold == cfg.initial_threshold for s in states[: k + 1])
    assert states[k].next_threshold == pytest.approx(np.quantile(focus[: k + 1], 0.35))


def test_fixed_threshold_does_not_move():
    _, states = run(RewardConfig(**FIXED), ar1(400, mean=0.5, sd=0.2, phi=0.9, seed=2))
    assert {s.threshold for s in states} == {0.5}
    assert [m.kind for s in states for m in s.events if m.kind == "threshold"] == ["threshold"]


def test_set_target_rate_and_threshold():
    ctl = RewardController(RewardConfig())
    ctl.set_target_rate(0.3)
    assert ctl.config.target_rate == 0.3
    ctl.set_threshold(0.7)
    assert ctl.step(update(0.0, 0.69)).on_target is False
    with pytest.raises(ValueError, match="target_rate"):
        ctl.set_target_rate(1.5)
    with pytest.raises(ValueError, match="threshold must be within"):
        ctl.set_threshold(0.99)


# -- gating --------------------------------------------------------------------------------
def test_gated_updates_are_never_rewarded_and_restart_the_hold():
    cfg = RewardConfig(**FIXED)
    # High focus, but every third window is an artifact: the hold never reaches 0.5 s.
    _, states = run(cfg, [0.95, 0.95, None] * 40)
    assert not any(s.reward for s in states)
    assert all(not s.on_target and s.hold_s == 0 for s in states if s.gated)
    # Three clean windows in a row are enough.
    _, states = run(cfg, [0.95, 0.95, 0.95, None] * 40)
    assert reward_times(states) and all(not s.gated for s in states if s.reward)


def test_random_artifacts_are_never_rewarded_with_the_adaptive_threshold():
    rng = np.random.default_rng(7)
    n = int(600 / HOP)
    focus = ar1(n, mean=0.6, sd=0.15, phi=0.95, seed=7)
    gated = rng.random(n) < 0.2
    seq = [None if g else float(f) for f, g in zip(focus, gated, strict=True)]
    seq[10] = math.nan  # a NaN slipping through counts as gated too
    cfg = RewardConfig()
    ctl, states = run(cfg, seq)
    hold_steps = round(cfg.min_hold_s / HOP)
    for i, s in enumerate(states):
        if s.reward:
            window = states[i - hold_steps: i + 1]
            assert all(not w.gated and w.on_target for w in window)
    assert not any(s.on_target or s.reward for s in states if s.gated)
    assert states[10].gated
    summary = ctl.summary()
    assert summary.gated_fraction == pytest.approx(
        sum(HOP for s in states[1:] if s.gated) / (HOP * (n - 1))
    )
    assert summary.rewards == sum(s.reward for s in states) > 0


# -- hold, refractory, streaks, points -----------------------------------------------------
def test_hold_and_refractory_fix_the_reward_times():
    on, off = 0.8, 0.2
    # off 0–0.75 s, on 1.0–5.0 s, off 5.25–5.75 s, on 6.0–7.0 s
    seq = [off] * 4 + [on] * 17 + [off] * 3 + [on] * 5
    _, states = run(RewardConfig(**FIXED), seq)
    assert reward_times(states) == [1.5, 3.0, 4.5, 6.5]
    assert [s.hold_s for s in states[4:7]] == [0.0, 0.25, 0.5]

    # A refractory period longer than the gap delays the second reward.
    seq = [on] * 9 + [off] + [on] * 8  # on 0–2.0 s, off 2.25 s, on 2.5–4.25 s
    _, states = run(RewardConfig(**FIXED), seq)
    assert reward_times(states) == [0.5, 2.0, 3.5]
    _, states = run(RewardConfig(**{**FIXED, "refractory_s": 2.0}), seq)
    assert reward_times(states) == [0.5, 3.0]


def test_zero_hold_rewards_the_first_on_target_update():
    cfg = RewardConfig(**{**FIXED, "min_hold_s": 0.0, "refractory_s": 0.5})
    _, states = run(cfg, [0.9, 0.9, 0.1, 0.9])
    assert reward_times(states) == [0.0, 0.75]


def test_streak_bonus_milestones_and_grace():
    cfg = RewardConfig(
        **FIXED, points_per_reward=10, streak_bonus=2, max_streak_bonus=10, streak_milestone=5,
        streak_grace_s=1.0,
    )
    # 7 rewards while holding (every 1.5 s from 0.5 s), a short dip, 1 more, a long dip, 1 more.
    seq = [0.9] * 39 + [0.1] * 3 + [0.9] * 3 + [0.1] * 5 + [0.9] * 3
    _, states = run(cfg, seq)
    rewards = [s for s in states if s.reward]
    awarded = [s.points_awarded for s in rewards]
    bonus = [min(2 * k, 10) for k in range(8)]
    assert awarded == [10 + b for b in bonus] + [10]
    assert [s.streak for s in rewards] == [1, 2, 3, 4, 5, 6, 7, 8, 1]
    assert [s.milestone for s in rewards] == [k == 4 for k in range(9)]
    assert states[-1].points == sum(awarded) and states[-1].rewards == 9
    assert states[-1].longest_streak == 8
    markers = [m for s in states for m in s.events if m.kind == "reward"]
    assert [m.value for m in markers] == awarded
    assert [m.label for m in markers].count("milestone") == 1


# -- pause ---------------------------------------------------------------------------------
def test_pause_stops_rewards_time_and_adaptation():
    cfg = RewardConfig(min_hold_s=0.5, refractory_s=1.5, warmup_s=0.0)
    ctl = RewardController(cfg)
    seq = updates([0.9] * 40)
    states = [ctl.step(u) for u in seq[:10]]
    before = states[-1]
    ctl.pause()
    paused = [ctl.step(u) for u in seq[10:20]]
    ctl.resume()
    after = [ctl.step(u) for u in seq[20:]]
    assert all(s.paused and not s.reward and not s.on_target and not s.events for s in paused)
    assert all(s.threshold == before.next_threshold for s in paused)
    assert all(s.elapsed_s == before.elapsed_s for s in paused)
    assert all(s.points == before.points for s in paused)
    # After resuming the hold starts afresh: first reward one hold after the first update.
    first = next(s for s in after if s.reward)
    assert first.t == pytest.approx(seq[20].t + cfg.min_hold_s)
    summary = ctl.summary()
    assert summary.paused_s == pytest.approx(10 * HOP)
    assert summary.duration_s == pytest.approx((len(seq) - 1) * HOP - 10 * HOP)


# -- summary -------------------------------------------------------------------------------
def test_summary_blocks_minutes_and_json():
    n = int(150 / HOP)
    focus = ar1(n, mean=0.5, sd=0.2, phi=0.9, seed=11).astype(object)
    focus[::7] = None
    ctl, states = run(RewardConfig(), list(focus))
    t = np.array([s.t for s in states])
    f = np.array([np.nan if v is None else v for v in focus], dtype=float)
    markers = [
        Marker(0.0, "block_start", "rest"), Marker(30.0, "block_end", "rest"),
        Marker(30.0, "block_start", "task"),  # left open: ends at the last update
    ]
    summary = ctl.summary(markers)
    rest, task = summary.blocks
    assert (rest.label, task.label) == ("rest", "task")
    assert rest.mean_focus == pytest.approx(np.nanmean(f[t < 30.0]))
    assert task.mean_focus == pytest.approx(np.nanmean(f[t >= 30.0]))
    assert task.end_t >= t[-1]
    assert rest.rewards + task.rewards == summary.rewards
    per_min = int(60 / HOP)
    assert summary.minutes == pytest.approx(
        [np.nanmean(f[i: i + per_min]) for i in range(0, n, per_min)]
    )
    assert summary.mean_focus == pytest.approx(np.nanmean(f))
    assert summary.mean_quality == pytest.approx(1.0)
    assert summary.valid_s + summary.gated_s == pytest.approx(summary.duration_s)
    assert summary.threshold_start == 0.5 and summary.threshold_end == states[-1].next_threshold
    again = json.loads(json.dumps(summary.to_dict()))
    assert again["blocks"][0]["label"] == "rest" and again["rewards"] == summary.rewards


def test_empty_summary():
    summary = RewardController().summary()
    assert summary.duration_s == 0 and summary.mean_focus is None and summary.blocks == ()
    assert summary.on_target_fraction is None and summary.minutes == ()


def test_measurement_only_gives_no_rewards_or_events():
    _, states = run(RewardConfig(rewards=False), [0.9] * 100)
    assert not any(s.reward or s.events for s in states)
    assert all(s.on_target for s in states)


def test_deterministic():
    seq = [None if i % 11 == 0 else float(v)
           for i, v in enumerate(ar1(800, mean=0.5, sd=0.1, phi=0.9, seed=4))]
    assert run(RewardConfig(), seq)[1] == run(RewardConfig(), seq)[1]


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"target_rate": 1.0}, "target_rate"),
        ({"initial_threshold": 0.99}, "initial_threshold"),
        ({"threshold_bounds": (0.6, 0.4)}, "threshold_bounds"),
        ({"min_hold_s": -1.0}, "min_hold_s"),
        ({"points_per_reward": -5}, "points_per_reward"),
        ({"adapt_window_s": 0.0}, "adapt_window_s"),
    ],
)
def test_config_rejects_bad_values(changes, match):
    with pytest.raises(ValueError, match=match):
        RewardConfig(**changes)


def test_time_going_backwards_is_an_error():
    ctl = RewardController()
    ctl.step(update(5.0, 0.5))
    with pytest.raises(ValueError, match="time order"):
        ctl.step(update(4.0, 0.5))
