"""Evaluation: metrics, baselines, subject-disjoint folds, the three modes' protocols, the CV and
its report, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from focus_helpers import small_eegmat, tiny_model_dir

from neurofb.cli import main
from neurofb.focus.neural import load_estimator
from neurofb.training.baselines import BandPowerLR, DeviationLR, concentration_scores
from neurofb.training.eegmat import load_eegmat
from neurofb.training.evaluate import (
    compare,
    late_rest_analysis,
    metrics_of,
    score_layout,
    subject_folds,
)
from neurofb.training.layouts import layout_channels
from neurofb.training.metrics import binary_metrics
from neurofb.training.modes import baseline_features, baseline_masks, calibration_masks

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def features(eegmat_dir, tmp_path_factory):
    return load_eegmat(eegmat_dir, [0, 1, 2], cache_dir=tmp_path_factory.mktemp("cache"))


def test_metrics_on_known_cases():
    y = np.array([0, 0, 0, 1, 1, 0, 1, 1])
    subj = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    perfect = metrics_of(y, y * 0.8 + 0.1, subj)
    assert perfect["auc"] == 1.0 and perfect["balanced_accuracy"] == 1.0 and perfect["f1"] == 1
    assert perfect["per_subject"] == {0: 1.0, 1: 1.0} and perfect["inverted"] == 0
    flipped = metrics_of(y, 1 - y, subj)
    assert flipped["auc"] == 0.0 and flipped["inverted"] == 2
    assert np.isnan(binary_metrics(np.zeros(3), np.array([0.2, 0.6, 0.9]))["auc"])
    with pytest.raises(ValueError, match="NaN"):
        binary_metrics(y, np.full(8, np.nan))


def test_folds_are_subject_disjoint_and_cover_everyone():
    subjects = [0, 1, 2, 5, 6, 7, 9, 11, 12, 14, 15, 16]
    for seed in (0, 1):
        folds = subject_folds(subjects, 6, seed)
        flat = [s for f in folds for s in f]
        assert sorted(flat) == subjects and len(set(flat)) == len(flat)
    assert subject_folds(subjects, 6, 0) != subject_folds(subjects, 6, 1)
    with pytest.raises(ValueError, match="folds"):
        subject_folds([0, 1], 3)


def test_brainflow_concentration_is_p_mindfulness_not_its_complement(features, eegmat_dir):
    """BrainFlow's own MLModel(MINDFULNESS) on its own band powers: the stored scores are its
    probability as it is (the OpenBCI GUI's "concentration"), not 1 - p."""
    import mne
    from brainflow.data_filter import DataFilter
    from brainflow.ml_model import (
        BrainFlowClassifiers,
        BrainFlowMetrics,
        BrainFlowModelParams,
        MLModel,
    )

    from neurofb.dsp.filters import StreamFilter, design_filter

    raw = mne.io.read_raw_edf(eegmat_dir / "Subject00_1.edf", verbose="error")
    picks = [n for n in raw.ch_names if n.startswith("EEG") and n != "EEG A2-A1"]
    data = StreamFilter(design_filter(500.0), 19).process(raw.get_data(picks=picks) * 1e6)
    w = data[:, 3000:4000]  # window 6 of subject 0's rest
    params = BrainFlowModelParams(BrainFlowMetrics.MINDFULNESS.value,
                                  BrainFlowClassifiers.DEFAULT_CLASSIFIER.value)
    model = MLModel(params)
    model.prepare()
    try:
        avg, std = DataFilter.get_avg_band_powers(np.ascontiguousarray(w), list(range(19)),
                                                  500, True)
        p = float(model.predict(np.concatenate([avg, std]))[0])
    finally:
        model.release()
    assert concentration_scores(w[None], 500.0)[0] == pytest.approx(p, abs=1e-12)
    assert features.brainflow["full"][6] == pytest.approx(p, abs=1e-12)


def test_baselines_score_real_windows(features):
    tr, te = features.of_subjects([0, 1]), features.of_subjects([2])
    p = BandPowerLR().fit(tr.X, tr.y).predict(te.X)
    assert p.shape == (len(te),) and np.all((p >= 0) & (p <= 1))
    cal, scored = calibration_masks(te)  # one person's own LR: real signal, imperfect score
    own = BandPowerLR().fit(te.X[cal], te.y[cal]).predict(te.X[scored])
    assert 0.8 < binary_metrics(te.y[scored], own)["auc"] < 1.0
    rel, _ = baseline_features(tr)
    dev = DeviationLR().fit(rel.X, rel.y, rel.subject)
    assert dev.C in (1e-3, 1e-2, 1e-1, 1.0)
    rel_te, scored = baseline_features(te)
    q = dev.predict(rel_te.X[scored])
    assert np.all((q >= 0) & (q <= 1))
    flipped = dev.predict(-rel_te.X[scored])  # sign-free: a mirrored change scores the same
    np.testing.assert_allclose(q, flipped)


def test_mode_protocols(features):
    s0 = features.of_subjects([0])
    base, scored = baseline_masks(s0)
    assert base.sum() == 59 and np.all(s0.y[base] == 0) and np.all(s0.t[base] + 2 <= 60)
    assert np.all(s0.t[scored] >= 60) and not (base & scored).any()
    assert (s0.y[scored] == 1).sum() == (s0.y == 1).sum()  # all task, late rest
    cal, sc = calibration_masks(s0)
    task_t = s0.t[s0.y == 1].min()
    assert np.all(s0.t[cal & (s0.y == 0)] + 2 <= 30) and np.all(
        s0.t[cal & (s0.y == 1)] + 2 <= task_t + 20)
    assert not (cal & sc).any() and sc.sum() + cal.sum() < len(s0)  # straddlers dropped


def test_layouts_use_the_nearest_electrodes(features):
    assert layout_channels(features.ch_names, "muse") == ("T7", "Fp1", "Fp2", "T8")
    assert len(layout_channels(features.ch_names, "cyton")) == 8
    assert layout_channels(features.ch_names, "full") == features.ch_names


@pytest.mark.parametrize("mode", ["cold", "baseline", "calibrated"])
def test_every_method_scores_the_same_windows_in_each_mode(features, tmp_path, mode):
    est = load_estimator(tiny_model_dir(tmp_path))
    tr, te = features.of_subjects([0, 1]), features.of_subjects([2])
    res = score_layout(est, tr, te, "cyton", mode)
    want = {"cold": {"model", "bandpower+LR", "brainflow_concentration"},
            "baseline": {"model", "bandpower+LR", "deviation_control",
                         "brainflow_concentration"},
            "calibrated": {"model", "model_cold_head", "bandpower+LR",
                           "brainflow_concentration"}}[mode]
    assert set(res.by_method) == want
    assert all(v.shape == res.index.shape for v in res.by_method.values())
    if mode == "baseline":
        assert np.all(te.t[res.index] >= 60)
    out = compare(est, tr, te, layouts=("muse",), mode=mode)
    assert {"auc", "balanced_accuracy", "f1", "per_subject_auc", "per_subject", "inverted",
            "windows"} <= set(out["muse"]["model"])
    if mode == "calibrated":  # a personal head on 50 s of one person's data: well above chance
        assert out["muse"]["model"]["auc"] > 0.8


def test_a_tiny_cross_validation_and_its_report(features):
    from neurofb.training.cv import cross_validate
    from neurofb.training.cv_report import summarise, tables
    from neurofb.training.train import Recipe

    recipe = Recipe(max_epochs=1, patience=1, n_members=2, d_model=8, n_heads=2)
    cv = cross_validate(features, n_folds=3, seeds=(0,), recipe=recipe,
                        modes=("cold", "baseline"), layouts=("muse", "full"))
    assert len(cv["folds"]) == 3
    tested = sorted(s for f in cv["folds"] for s in f["test"])
    assert tested == features.subjects  # everyone is tested once per seed
    key = "0|cold|model|muse"
    assert np.isfinite(cv["scores"][key]).all()
    report = summarise(cv, features)
    row = report["summary"]["cold"]["muse"]["model"]
    assert row["n_folds"] == 3 and set(row["per_subject"]) == {0, 1, 2}
    paired = report["paired"]["cold"]["muse"]["model"]
    assert paired["folds"] == 3 and paired["wins"] <= 3
    assert set(report["decision"]) == {"cold", "baseline"}
    assert "vs_deviation" in report["decision"]["baseline"]["layouts"]["full"]
    assert set(report["late_rest"]) == {"model", "bandpower+LR", "deviation_control",
                                        "brainflow_concentration"}
    text = tables(report, features.subjects)
    assert "### cold" in text and "decision rule" in text and "late rest" in text


def test_cli_evaluate_json(eegmat_dir, tmp_path, capsys):
    folder = small_eegmat(tmp_path, eegmat_dir)
    cache = str(tmp_path / "cache")
    model_dir = tiny_model_dir(tmp_path)
    base = ["evaluate", "--model", str(model_dir), "--eegmat", str(folder), "--cache", cache]
    assert main([*base, "--subjects", "2", "--montage", "all", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("auc", "balanced_accuracy", "f1", "per_subject_auc", "windows",
                "per_subject", "inverted"):
        assert key in out
    assert out["windows"] == 242 and out["held_out"] is True and out["mode"] == "cold"
    assert out["baseline_lr_trained_on"] == [0, 1]
    assert set(out["montages"]) == {"full", "cyton", "muse"}
    assert set(out["montages"]["full"]) >= {"model", "bandpower+LR", "brainflow_concentration"}
    assert main([*base, "--subjects", "2", "--baseline", "60", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "baseline" and "deviation_control" in out["montages"]["full"]
    assert "late_rest" in out["montages"]["full"]
    assert main([*base, "--subjects", "2", "--calibrate", "--montage", "muse"]) == 0
    assert "calibrated mode" in capsys.readouterr().out
    assert main([*base, "--baseline", "60", "--calibrate"]) == 2
    assert "one mode per run" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(tmp_path / "none"), "--eegmat", str(folder)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_late_rest_starts_where_the_baseline_ends(features, tmp_path):
    # With a 30 s baseline, rest from 30 s on is "late rest" (it was counted from 60 s).
    est = load_estimator(tiny_model_dir(tmp_path))
    tr, te = features.of_subjects([0, 1]), features.of_subjects([2])
    out = compare(est, tr, te, layouts=("muse",), mode="baseline", baseline_s=30.0)
    res = score_layout(est, tr, te, "muse", "baseline", baseline_s=30.0)
    def text(d: dict) -> str:  # NaN (a drift with too few windows) compares as text
        return json.dumps(d, sort_keys=True)

    want = text(late_rest_analysis(te, res, 30.0))
    assert text(out["muse"]["late_rest"]) == want != text(late_rest_analysis(te, res, 60.0))
