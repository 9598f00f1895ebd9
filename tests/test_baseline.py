"""Baseline mode's causal session statistics, and their batch twin used in training."""

from __future__ import annotations

import numpy as np
import pytest

from neurofb.focus.baseline import SessionBaseline, recentre_sessions


def _feats(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(1.0, 0.5, (n, 3, 50))


def test_rest_feeds_the_baseline_then_windows_are_recentred_like_the_batch_twin():
    feats = _feats(100)
    t_end = np.arange(100) + 2.0  # 2 s windows every 1 s
    sb = SessionBaseline((3, 50))
    assert sb.state == "off" and sb.update(feats[0], 2.0) is None
    sb.restart(60.0, start_s=0.0)
    outs = [sb.update(f, t, t_start=t - 2) for f, t in zip(feats, t_end, strict=True)]
    n_base = int((t_end <= 60).sum())
    assert all(o is None for o in outs[:n_base]) and sb.state == "baseline"
    assert sb.count == n_base
    ref = recentre_sessions(feats, np.zeros(100), t_end <= 60)
    np.testing.assert_allclose(np.stack(outs[n_base:]), ref[n_base:], rtol=0, atol=1e-12)


def test_only_past_windows_enter_the_statistics():
    feats = _feats(100, seed=1)
    t_end = np.arange(100) + 2.0
    a, b = SessionBaseline((3, 50)), SessionBaseline((3, 50))
    for sb in (a, b):
        sb.restart(60.0)
    later = feats.copy()
    later[70:] += 5.0  # change the future: what came out before must not change
    out_a = [a.update(f, t) for f, t in zip(feats, t_end, strict=True)]
    out_b = [b.update(f, t) for f, t in zip(later, t_end, strict=True)]
    for i in range(70):
        assert (out_a[i] is None and out_b[i] is None) or np.array_equal(out_a[i], out_b[i])


def test_too_few_clean_windows_leave_the_session_cold():
    sb = SessionBaseline((3, 50), min_windows=20)
    sb.restart(60.0)
    for t in (10.0, 20.0, 30.0):  # most windows were gated out
        assert sb.update(_feats(1)[0], t) is None
    assert sb.update(_feats(1)[0], 61.0) is None and sb.state == "baseline-failed"
    assert sb.update(_feats(1)[0], 99.0) is None
    sb.restart(None)
    assert sb.state == "off"


def test_a_restart_mid_stream_ignores_windows_with_samples_from_before():
    sb = SessionBaseline((3, 50), min_windows=2)
    sb.restart(10.0, start_s=100.0)
    assert sb.update(_feats(1)[0], 101.0, t_start=99.0) is None and sb.count == 0
    for t in (103.0, 105.0, 110.0):
        sb.update(_feats(1, seed=int(t))[0], t, t_start=t - 2)
    assert sb.count == 3
    assert sb.update(_feats(1)[0], 111.0, t_start=109.0) is not None and sb.ready


def test_bad_arguments():
    with pytest.raises(ValueError, match="shape"):
        SessionBaseline((3,))
    sb = SessionBaseline((3, 50))
    with pytest.raises(ValueError, match="positive"):
        sb.restart(-5.0)
    sb.restart(60.0)
    with pytest.raises(ValueError, match="shape"):
        sb.update(np.zeros((2, 50)), 5.0)
    with pytest.raises(ValueError, match="fewer than 2"):
        recentre_sessions(_feats(5), np.zeros(5), np.zeros(5, bool))
