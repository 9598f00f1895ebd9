"""Datasets (eegmat, recordings), the training loop, checkpoints, adversarial examples, the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from focus_helpers import small_eegmat, tiny_config, write_calibration_recording

from neurofb.cli import main
from neurofb.training.eegmat import DatasetError, load_eegmat, load_subject, parse_subjects
from neurofb.training.train import TrainConfig, split_subjects, train

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def windows(eegmat_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return load_eegmat(eegmat_dir, [0, 1, 2], cache_dir=cache)


def test_eegmat_windows_are_labelled_and_cut_as_the_engine_does(eegmat_dir, tmp_path):
    import mne

    from neurofb.dsp.filters import StreamFilter, design_filter
    from neurofb.focus.neural import resample_windows

    ws = load_subject(eegmat_dir, 0, cache_dir=tmp_path)
    raw1 = mne.io.read_raw_edf(eegmat_dir / "Subject00_1.edf", verbose="error")
    raw2 = mne.io.read_raw_edf(eegmat_dir / "Subject00_2.edf", verbose="error")
    n_rest = int((raw1.n_times / 500 - 2) // 1) + 1
    n_task = int((raw2.n_times / 500 - 2) // 1) + 1
    assert ws.X.shape == (n_rest + n_task, 19, 256) and ws.X.dtype == np.float32
    assert list(ws.y) == [0] * n_rest + [1] * n_task
    assert ws.ch_names[6] == "T7" and ws.ch_names[10] == "P7"
    # window 5 of the task file: filtered from the file's first sample, then resampled
    picks = [n for n in raw2.ch_names if n.startswith("EEG") and n != "EEG A2-A1"]
    data = raw2.get_data(picks=picks) * 1e6
    filtered = StreamFilter(design_filter(500.0), 19).process(data)
    expected = resample_windows(filtered[None, :, 2500:3500], 500.0, 128.0)[0]
    np.testing.assert_allclose(ws.X[n_rest + 5], expected, rtol=1e-5, atol=1e-4)
    assert 1 < float(np.std(ws.X)) < 100  # microvolts
    assert [f["sha256"] for f in ws.files] == [
        __import__("neurofb.focus.io", fromlist=["x"]).sha256_file(p)
        for p in (eegmat_dir / "Subject00_1.edf", eegmat_dir / "Subject00_2.edf")]
    # the cache returns the same windows
    cached = load_subject(eegmat_dir, 0, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("eegmat-00-*.npz"))) == 1
    np.testing.assert_array_equal(cached.X, ws.X)
    np.testing.assert_array_equal(cached.y, ws.y)


def test_subject_lists(eegmat_dir, tmp_path):
    assert parse_subjects("0,2-3", [0, 1, 2, 3, 5]) == [0, 2, 3]
    assert parse_subjects(None, [5, 1]) == [1, 5]
    with pytest.raises(DatasetError, match=r"\[4\] are not in"):
        parse_subjects("0,4", [0, 1])
    with pytest.raises(DatasetError, match="bad subject list"):
        parse_subjects("zero", [0])
    with pytest.raises(DatasetError, match="does not exist"):
        load_eegmat(tmp_path / "none")
    with pytest.raises(DatasetError, match="no complete eegmat subject"):
        load_eegmat(tmp_path)


def test_validation_split_is_by_subject():
    train_s, val_s = split_subjects([0, 1, 2, 5, 6, 7], 2, seed=3)
    assert len(val_s) == 2 and not set(train_s) & set(val_s)
    assert sorted(train_s + val_s) == [0, 1, 2, 5, 6, 7]
    assert split_subjects([0, 1, 2, 5, 6, 7], 2, seed=3) == (train_s, val_s)


def test_training_improves_and_is_reproducible(windows, tmp_path):
    cfg = tiny_config(max_epochs=4, patience=10)
    a = train(windows, config=cfg, logdir=tmp_path / "tb")
    b = train(windows, config=cfg)
    assert a.val_subjects and not set(a.val_subjects) & set(a.train_subjects)
    assert len(a.history) == 4
    assert a.history[-1]["train_loss"] < a.history[0]["train_loss"]
    assert 1 <= a.best_epoch <= 4 and 0 <= a.best_score <= 1
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(v, b.model.state_dict()[k])
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert a.device == "cpu" and a.world_size == 1


def test_resumed_training_equals_uninterrupted(windows, tmp_path):
    cfg = tiny_config(max_epochs=3, patience=10)
    full = train(windows, config=cfg)
    ckpt = tmp_path / "ckpt"
    train(windows, config=replace(cfg, max_epochs=2), checkpoint_dir=ckpt)
    assert {p.name for p in ckpt.iterdir()} == {"last.safetensors", "best.safetensors",
                                                "state.json"}
    resumed = train(windows, config=cfg, checkpoint_dir=ckpt, resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    np.testing.assert_allclose([h["train_loss"] for h in resumed.history],
                               [h["train_loss"] for h in full.history], rtol=1e-6)
    assert resumed.best_epoch == full.best_epoch


def test_resume_without_checkpoint_is_an_error(windows, tmp_path):
    from neurofb.errors import ModelError

    with pytest.raises(ModelError, match="no checkpoint"):
        train(windows, config=tiny_config(), checkpoint_dir=tmp_path / "empty", resume=True)


def test_one_class_is_refused(windows):
    with pytest.raises(ValueError, match="both classes"):
        train(windows.take(windows.y == 0), config=tiny_config())


def test_config_checks():
    with pytest.raises(ValueError, match="adversarial"):
        TrainConfig(adversarial="cw")
    with pytest.raises(ValueError, match="subset_prob"):
        TrainConfig(subset_prob=2.0)


def test_adversarial_perturbations_stay_in_budget_and_hurt(windows):
    from neurofb.training.adversarial import perturb, robustness

    result = train(windows, config=tiny_config(max_epochs=2))
    model = result.model
    x = torch.as_tensor(windows.X[::20])
    y = torch.as_tensor(windows.y[::20])
    pos = torch.as_tensor(windows.positions(), dtype=torch.float32)
    loss = torch.nn.functional.binary_cross_entropy_with_logits
    with torch.no_grad():
        clean = loss(model(x, pos)[0], y.float())
    for attack in ("fgsm", "pgd"):
        xa = perturb(model, x, y, pos, attack=attack, eps=0.1, steps=3)
        budget = 0.1 * x.std(-1, keepdim=True)
        assert torch.all((xa - x).abs() <= budget * (1 + 1e-4) + 1e-6)
        with torch.no_grad():
            assert loss(model(xa, pos)[0], y.float()) > clean
    rows = robustness(model, windows.X[::20], windows.y[::20], windows.positions(),
                      eps=(0.0, 0.1), steps=2)
    assert [(r["attack"], r["eps"]) for r in rows] == [("fgsm", 0.0), ("fgsm", 0.1),
                                                       ("pgd", 0.0), ("pgd", 0.1)]
    assert rows[1]["auc"] < rows[0]["auc"]
    with pytest.raises(ValueError, match="attack"):
        perturb(model, x, y, pos, attack="cw")


def test_adversarial_training_runs(windows):
    small = windows.take(np.arange(len(windows)) % 4 == 0)
    result = train(small, config=tiny_config(max_epochs=1, adversarial="fgsm"))
    assert np.isfinite(result.history[0]["train_loss"])


def test_recording_windows_follow_the_labelled_blocks(eegmat_dir, tmp_path):
    from neurofb.recording import open_recording
    from neurofb.training.recordings import load_recordings, recording_windows

    path = write_calibration_recording(tmp_path / "rec", eegmat_dir, 1, rest_s=20, task_s=15)
    ws = recording_windows(open_recording(path))
    assert int((ws.y == 0).sum()) == 19 and int((ws.y == 1).sum()) == 14
    assert np.all(ws.t[ws.y == 0] + 2 <= 20 + 1e-9) and np.all(ws.t[ws.y == 1] >= 20 - 1e-9)
    assert len(ws.ch_names) == 19 and ws.files[0]["sha256"]
    both = load_recordings([tmp_path])  # a folder of recordings
    assert len(both) == len(ws)


def test_cli_train_writes_a_loadable_model(eegmat_dir, tmp_path, capsys):
    from neurofb.focus.io import load_model

    folder = small_eegmat(tmp_path, eegmat_dir)
    out = tmp_path / "model"
    args = ["train", "--eegmat", str(folder), "--subjects", "0,1,2", "--epochs", "2",
            "--val-subjects", "1", "--d-model", "8", "--heads", "2", "--layers", "1",
            "--out", str(out), "--cache", str(tmp_path / "cache"), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(out) and len(summary["val_subjects"]) == 1
    model, meta = load_model(out)
    assert meta["training"]["data"]["eegmat"]["subjects"] == [0, 1, 2]
    assert len(meta["training"]["data"]["eegmat"]["files"]) == 6
    assert meta["input"]["sfreq"] == 128.0 and meta["input"]["channels"][6] == "T7"
    assert model.hparams["d_model"] == 8
    assert main(args) == 2  # refuses to overwrite
    assert "already holds a model" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "x")]) == 2
    assert "--eegmat" in capsys.readouterr().err
