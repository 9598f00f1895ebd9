"""Band-power feedback targets: parsing, baseline normalisation, direction, channels, errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from neurofb.dsp.features import band_powers
from neurofb.errors import ChannelError, ModelError
from neurofb.focus.bandpower import BandPowerEstimator, TargetDef, parse_target
from neurofb.focus.base import BoundEstimator, Estimator
from neurofb.focus.targets import TARGETS, make_estimator, targets_help

SFREQ = 250.0
NAMES = ("Fz", "C3", "Cz", "C4", "T3", "O1")


def _windows(theta: np.ndarray, beta: np.ndarray, alpha: float = 10.0, seed: int = 0):
    """One 2-s window per (theta, beta) amplitude pair, six channels, with a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(500) / SFREQ
    out = []
    for th, be in zip(theta, beta, strict=True):
        x = (th * np.sin(2 * np.pi * 6 * t) + be * np.sin(2 * np.pi * 20 * t)
             + alpha * np.sin(2 * np.pi * 10 * t))
        out.append(x + rng.normal(0, 1.0, (len(NAMES), t.size)))
    return np.stack(out)


def _predict(spec, windows, **kwargs):
    bound = make_estimator(spec, **kwargs).bind(NAMES, SFREQ)
    return bound.predict(windows, band_powers(windows, SFREQ, ch_names=NAMES))


def test_presets_and_custom_specs_parse():
    assert parse_target("engagement") == TargetDef(("beta",), ("alpha", "theta"))
    assert parse_target("TBR").down
    assert parse_target("smr") == TargetDef(("smr",))
    spec = parse_target("band:beta/theta@Fz,Cz")
    assert spec == TargetDef(("beta",), ("theta",), ("Fz", "Cz"), False)
    assert parse_target("band:theta/beta@Cz:down").down
    assert parse_target("band:beta/alpha+theta").denominator == ("alpha", "theta")
    assert parse_target("band:alpha@O1,O2").channels == ("O1", "O2")


@pytest.mark.parametrize(
    ("spec", "match"),
    [("focus", "unknown target"), ("band:bogus/theta", "unknown band 'bogus'"),
     ("band:beta@", "no channels"), ("band:/theta", "empty band")],
)
def test_bad_specs_are_clear_errors(spec, match):
    with pytest.raises(ModelError, match=match):
        make_estimator(spec)


def test_estimators_follow_the_protocol():
    for spec in ("engagement", "tbr", "smr", "alpha", "band:beta/theta@Fz,Cz"):
        est = make_estimator(spec)
        assert isinstance(est, Estimator) and est.name == spec
        assert isinstance(est.bind(NAMES, SFREQ), BoundEstimator)


def test_first_window_is_neutral_and_baseline_then_scores_changes():
    n = 40  # 10 s at a 0.25 s hop = the whole baseline
    base = _windows(np.full(n, 20.0), np.full(n, 5.0), seed=1)
    more_beta = _windows(np.full(5, 20.0), np.full(5, 15.0), seed=2)
    less_beta = _windows(np.full(5, 20.0), np.full(5, 1.0), seed=3)
    bound = make_estimator("engagement").bind(NAMES, SFREQ)
    out = bound.predict(base, band_powers(base, SFREQ, ch_names=NAMES))
    assert out.focus[0] == 0.5
    assert 0.2 < out.focus[5:].mean() < 0.8  # scored against its own baseline
    assert bound.baseline[2] == n
    up = bound.predict(more_beta, band_powers(more_beta, SFREQ, ch_names=NAMES)).focus
    down = bound.predict(less_beta, band_powers(less_beta, SFREQ, ch_names=NAMES)).focus
    assert (up > 0.95).all() and (down < 0.05).all()
    assert bound.baseline[2] == n  # the baseline stopped growing


def test_theta_beta_target_is_inverted():
    w = _windows(np.r_[np.full(40, 10.0), 30.0, 3.0], np.full(42, 8.0))
    focus = _predict("tbr", w).focus
    assert focus[-2] < 0.05  # more theta: ratio up: focus down
    assert focus[-1] > 0.95


def test_custom_band_on_chosen_channels_ignores_the_others():
    w = _windows(np.full(42, 10.0), np.full(42, 8.0))
    w[-1, [0, 2]] *= 0.2  # Fz and Cz quieter overall: ratio unchanged on them
    w[-1, 3] += 40 * np.sin(2 * np.pi * 20 * np.arange(500) / SFREQ)  # C4: more beta
    beta_theta = _predict("band:beta/theta@Fz,Cz", w)
    assert 0.2 < beta_theta.focus[-1] < 0.8
    expl = beta_theta.explanation
    np.testing.assert_allclose(expl.sum(axis=1), 1.0)
    assert (expl[:, [1, 3, 4, 5]] == 0).all() and (expl[:, [0, 2]] > 0).all()
    assert _predict("band:beta/theta@C4", w).focus[-1] > 0.95


def test_relative_power_targets():
    t = np.arange(500) / SFREQ
    w = _windows(np.full(42, 10.0), np.full(42, 8.0))
    w[-1] += 30 * np.sin(2 * np.pi * 10 * t)  # alpha up
    w[-2] += 30 * np.sin(2 * np.pi * 13.5 * t)  # SMR up
    alpha, smr = _predict("alpha", w).focus, _predict("smr", w).focus
    assert alpha[-1] > 0.95 and smr[-2] > 0.95


def test_channel_names_are_matched_with_aliases_and_case():
    est = BandPowerEstimator("alpha", channels=["t7", "cz"])
    bound = est.bind(NAMES, SFREQ)
    assert list(bound.channel_idx) == [2, 4]
    assert est.name == "band:alpha@t7,cz"


def test_unknown_channel_lists_the_valid_names():
    with pytest.raises(ChannelError, match=r"Pz.*valid names: Fz, C3, Cz, C4, T3, O1"):
        make_estimator("band:beta/theta@Pz").bind(NAMES, SFREQ)
    with pytest.raises(ChannelError, match="no EEG channels"):
        make_estimator("engagement").bind((), SFREQ)


def test_sampling_rate_too_low_for_the_bands():
    with pytest.raises(ModelError, match="Nyquist"):
        make_estimator("engagement").bind(NAMES, 50.0)


def test_batches_and_single_windows_give_identical_focus():
    w = _windows(np.linspace(5, 30, 60), np.linspace(20, 3, 60))
    feats = band_powers(w, SFREQ, ch_names=NAMES)
    batch = make_estimator("engagement").bind(NAMES, SFREQ).predict(w, feats)
    one = make_estimator("engagement").bind(NAMES, SFREQ)
    single = [one.predict(w[i : i + 1], band_powers(w[i : i + 1], SFREQ, ch_names=NAMES)).focus[0]
              for i in range(len(w))]
    np.testing.assert_array_equal(batch.focus, single)


def test_reset_forgets_the_baseline():
    w = _windows(np.linspace(5, 30, 50), np.full(50, 8.0))
    feats = band_powers(w, SFREQ, ch_names=NAMES)
    bound = make_estimator("engagement").bind(NAMES, SFREQ)
    first = bound.predict(w, feats).focus
    bound.reset()
    np.testing.assert_array_equal(bound.predict(w, feats).focus, first)


def test_baseline_length_follows_the_hop():
    est = BandPowerEstimator("engagement", baseline_s=10.0)
    assert est.bind(NAMES, SFREQ, hop_s=1.0).n_baseline == 10
    assert est.bind(NAMES, SFREQ, hop_s=0.25).n_baseline == 40
    with pytest.raises(ValueError, match="baseline_s"):
        BandPowerEstimator("engagement", baseline_s=-1)


def test_model_target_without_the_model_module_is_a_clear_error(monkeypatch):
    # The attention model module may not exist in a given build; simulate its absence.
    monkeypatch.setitem(sys.modules, "neurofb.focus.neural", None)
    with pytest.raises(ModelError, match="use --target engagement"):
        make_estimator("model")


def test_targets_are_described():
    assert {"model", "engagement", "tbr", "smr", "alpha"} <= set(TARGETS)
    assert "band:beta/theta@Fz,Cz" in targets_help()
