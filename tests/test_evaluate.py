"""Evaluation: metrics, baselines, subject-disjoint folds, calibration protocol, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from focus_helpers import small_eegmat, tiny_config

from neurofb.cli import main
from neurofb.training.baselines import BandPowerLR, log_band_powers, mindfulness_scores
from neurofb.training.eegmat import load_eegmat
from neurofb.training.evaluate import (
    calibration_split,
    compare,
    cross_validate,
    montage_channels,
    subject_folds,
)
from neurofb.training.metrics import binary_metrics
from neurofb.training.train import train

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def windows(eegmat_dir, tmp_path_factory):
    return load_eegmat(eegmat_dir, [0, 1, 2], cache_dir=tmp_path_factory.mktemp("cache"))


def test_metrics_on_known_cases():
    y = np.array([0, 0, 0, 1, 1, 0, 1, 1])
    subj = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    perfect = binary_metrics(y, y * 0.8 + 0.1, subjects=subj)
    assert perfect["auc"] == 1.0 and perfect["balanced_accuracy"] == 1.0 and perfect["f1"] == 1
    assert perfect["per_subject"] == {0: 1.0, 1: 1.0} and perfect["windows"] == 8
    reversed_ = binary_metrics(y, 1 - y)
    assert reversed_["auc"] == 0.0 and reversed_["balanced_accuracy"] == 0.0
    one_class = binary_metrics(np.zeros(3), np.array([0.2, 0.6, 0.9]))
    assert np.isnan(one_class["auc"])
    with pytest.raises(ValueError, match="NaN"):
        binary_metrics(y, np.full(8, np.nan))


def test_folds_are_subject_disjoint_and_cover_everyone():
    subjects = [0, 1, 2, 5, 6, 7, 9, 11, 12, 14, 15, 16, 18, 19, 20, 22, 23, 24, 26, 27, 29,
                31, 32, 34]
    folds = subject_folds(subjects, 6, seed=0)
    assert [len(f) for f in folds] == [4] * 6
    assert sorted(s for f in folds for s in f) == subjects
    for i, a in enumerate(folds):
        for b in folds[i + 1:]:
            assert not set(a) & set(b)
    assert subject_folds(subjects, 6, seed=0) == folds
    assert subject_folds(subjects, 6, seed=1) != folds
    with pytest.raises(ValueError, match="folds"):
        subject_folds(subjects[:3], 4)


def test_band_powers_find_a_sine():
    t = np.arange(256) / 128.0
    x = np.stack([np.sin(2 * np.pi * f * t) * 10 for f in (2.0, 6.0, 10.0, 20.0, 40.0)])
    bp = log_band_powers(x[:, None, :], 128.0)
    assert bp.shape == (5, 5)
    assert list(np.argmax(bp, axis=1)) == [0, 1, 2, 3, 4]


def test_baselines_score_real_windows(windows):
    tr, te = windows.of_subjects([0, 1]), windows.of_subjects([2])
    p = BandPowerLR().fit(tr.X, tr.y, tr.sfreq).predict(te.X, te.sfreq)
    assert p.shape == (len(te),) and np.all((p >= 0) & (p <= 1))
    focus = mindfulness_scores(te.X[:20], te.sfreq)
    assert focus.shape == (20,) and np.all((focus >= 0) & (focus <= 1))
    assert np.std(focus) > 0
    with pytest.raises(ValueError, match="both classes"):
        BandPowerLR().fit(tr.X[:5], np.zeros(5), tr.sfreq)


def test_calibration_protocol_split(windows):
    cal, scored = calibration_split(windows.of_subjects([0]))
    assert np.all(cal.t[cal.y == 0] + 2 <= 30) and np.all(cal.t[cal.y == 1] + 2 <= 20)
    assert np.all(scored.t[scored.y == 0] >= 30) and np.all(scored.t[scored.y == 1] >= 20)
    assert int((cal.y == 0).sum()) == 29 and int((cal.y == 1).sum()) == 19
    assert len(cal) + len(scored) < len(windows.of_subjects([0]))  # straddling ones dropped


def test_montage_channels_use_nearest_electrodes(windows):
    assert montage_channels(windows, "full") == windows.ch_names
    assert montage_channels(windows, "cyton") == ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1",
                                                   "O2")
    assert montage_channels(windows, "muse") == ("T7", "Fp1", "Fp2", "T8")


def test_compare_model_and_baselines_on_the_same_windows(windows):
    tr, te = windows.of_subjects([0, 1]), windows.of_subjects([2])
    model = train(tr, config=tiny_config()).model
    res = compare(model, tr, te, montages=("full", "muse"))
    for name in ("full", "muse"):
        assert set(res[name]) == {"channels", "model", "bandpower+LR", "mindfulness"}
        for method in ("model", "bandpower+LR", "mindfulness"):
            assert res[name][method]["windows"] == len(te)
            assert 0 <= res[name][method]["auc"] <= 1
    cal = compare(model, None, te, montages=("cyton",), calibrate=True)
    _, scored = calibration_split(te)
    assert cal["cyton"]["model"]["windows"] == len(scored)
    assert "calibration" in cal["cyton"]["bandpower+LR"]["note"]


@pytest.mark.slow
def test_cross_validation_never_trains_on_a_test_subject(windows, monkeypatch):
    import neurofb.training.evaluate as ev

    seen = []
    real_train = ev.train

    def spy(data, **kw):  # records who each model is trained on; the real training runs
        seen.append(set(data.subjects))
        return real_train(data, **kw)

    monkeypatch.setattr(ev, "train", spy)
    res = cross_validate(windows, n_folds=3, base=tiny_config(max_epochs=1),
                         candidates=[{}, {"dropout": 0.2}], inner_splits=1,
                         montages=("full",))
    assert len(res["folds"]) == 3
    for fold in res["folds"]:
        test = set(fold["test_subjects"])
        assert not test & set(fold["val_subjects"])
    # 3 folds x (2 candidates x 1 inner split + 1 final) trainings, none sees its test subject
    assert len(seen) == 9
    for k, fold in enumerate(res["folds"]):
        for subjects in seen[3 * k:3 * k + 3]:
            assert not subjects & set(fold["test_subjects"])
    summary = res["summary"]["full"]
    assert set(summary) == {"model", "bandpower+LR", "mindfulness"}
    assert summary["model"]["windows"] == len(windows)


def test_cli_evaluate_json(eegmat_dir, tmp_path, capsys):
    folder = small_eegmat(tmp_path, eegmat_dir)
    cache = str(tmp_path / "cache")
    model_dir = tmp_path / "m"
    assert main(["train", "--eegmat", str(folder), "--subjects", "0,1", "--epochs", "1",
                 "--val-subjects", "1", "--d-model", "8", "--heads", "2", "--layers", "1",
                 "--out", str(model_dir), "--cache", cache]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model_dir), "--eegmat", str(folder),
                 "--subjects", "2", "--json", "--cache", cache]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("auc", "balanced_accuracy", "f1", "per_subject_auc", "windows"):
        assert key in out
    assert out["windows"] == 242 and out["held_out"] is True
    assert out["baseline_lr_trained_on"] == [0, 1]
    assert set(out["montages"]["full"]) >= {"bandpower+LR", "mindfulness"}
    assert main(["evaluate", "--model", str(model_dir), "--eegmat", str(folder),
                 "--subjects", "0", "--montage", "muse", "--no-baselines", "--cache",
                 cache]) == 0
    text = capsys.readouterr().out
    assert "muse" in text and "not held-out" in text
    assert main(["evaluate", "--model", str(tmp_path / "none"), "--eegmat", str(folder)]) == 2
    assert "does not exist" in capsys.readouterr().err
    # a personalised model is one person's: evaluating it on others is refused
    from neurofb.focus.io import load_model, save_model

    model, meta = load_model(model_dir)
    personal = model.with_personal_head(len(meta["input"]["channels"]))
    keep = {k: v for k, v in meta.items() if k in ("input", "training", "name")}
    keep["input"] = {**keep["input"], "personal_electrodes": meta["input"]["channels"]}
    save_model(personal, tmp_path / "personal", keep)
    assert main(["evaluate", "--model", str(tmp_path / "personal"), "--eegmat", str(folder),
                 "--subjects", "2", "--cache", cache]) == 2
    assert "personalised" in capsys.readouterr().err
