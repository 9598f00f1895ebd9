"""Reward logic: how close the adaptive threshold keeps the on-target rate to its target, and the
cost of one update (reward controller + exercise step).

Focus is synthetic AR(1) noise (seeded) around several means, spreads and autocorrelations, at
4 updates/s. Each row is one focus distribution and target rate, over ``--seeds`` runs of
``--minutes`` minutes: the achieved on-target fraction over the whole run and over its second
half, the worst 60-s window, rewards per minute, and the per-update cost in µs.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported in the functions: `neurofb bench --help` must not pay for them
    from neurofb.types import Update

NAME = "feedback"
DESCRIPTION = "adaptive threshold: achieved on-target rate vs target; µs per update"

HOP_S = 0.25
#: (target rate, focus mean, focus sd, lag-1 autocorrelation)
CASES = (
    (0.65, 0.3, 0.05, 0.9),
    (0.65, 0.5, 0.15, 0.95),
    (0.65, 0.8, 0.10, 0.98),
    (0.65, 0.6, 0.20, 0.8),
    (0.65, 0.2, 0.03, 0.99),
    (0.40, 0.5, 0.15, 0.95),
    (0.80, 0.7, 0.10, 0.9),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``neurofb bench feedback``."""
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="feedback: minutes of each run (default 10)")
    parser.add_argument("--seeds", type=int, default=3, help="feedback: runs per case (default 3)")


def _ar1(n: int, mean: float, sd: float, phi: float, rng: np.random.Generator) -> np.ndarray:
    e = rng.normal(0.0, sd * np.sqrt(1.0 - phi**2), n)
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return np.clip(mean + x, 0.0, 1.0)


def _update(t: float, focus: float) -> Update:
    from neurofb.types import Update

    return Update(t=t, focus=focus, raw_focus=focus, quality=1.0, reason="",
                  channel_quality=(1.0,), channel_reasons=("",), attention=None, rel_power=(),
                  latency_s=0.0, sample_index=0)


def run(args: argparse.Namespace) -> list[dict]:
    """Run every case; return one table row per case."""
    from neurofb.practice.exercises import Rocket
    from neurofb.practice.reward import RewardConfig, RewardController

    n = int(args.minutes * 60 / HOP_S)
    win = int(60 / HOP_S)
    rows = []
    for target, mean, sd, phi in CASES:
        overall, second, worst, per_min, cost = [], [], [], [], []
        for seed in range(args.seeds):
            focus = _ar1(n, mean, sd, phi, np.random.default_rng(seed))
            ups = [_update(i * HOP_S, float(f)) for i, f in enumerate(focus)]
            ctl = RewardController(RewardConfig(target_rate=target))
            ex = Rocket(duration_s=None)
            on = np.zeros(n, dtype=bool)
            for i, u in enumerate(ups):
                t0 = time.perf_counter()
                state = ctl.step(u)
                ex.step(state)
                cost.append(time.perf_counter() - t0)
                on[i] = state.on_target
            overall.append(on.mean())
            second.append(on[n // 2:].mean())
            worst.append(max(abs(on[i:i + win].mean() - target)
                             for i in range(n // 4, n - win + 1, win)))
            per_min.append(ctl.summary().rewards / args.minutes)
        rows.append({
            "target": target,
            "focus": f"AR1 mean {mean} sd {sd} phi {phi}",
            "rate_all": round(float(np.mean(overall)), 3),
            "rate_2nd_half": round(float(np.mean(second)), 3),
            "max_err_2nd_half": round(float(np.max(np.abs(np.array(second) - target))), 3),
            "worst_60s_err": round(float(np.max(worst)), 3),
            "rewards_per_min": round(float(np.mean(per_min)), 1),
            "us_p50": round(float(np.percentile(cost, 50)) * 1e6, 1),
            "us_p99": round(float(np.percentile(cost, 99)) * 1e6, 1),
        })
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=DESCRIPTION)
    add_arguments(p)
    for row in run(p.parse_args()):
        print(row)
