"""Datasets as the engine's features, the training loop, checkpoints, the CLI."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from focus_helpers import small_eegmat, tiny_recipe, write_calibration_recording

from neurofb.cli import main
from neurofb.training.eegmat import DatasetError, load_eegmat, load_subject, parse_subjects
from neurofb.training.train import Cancelled, Recipe, member_groups, train_ensemble

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def features(eegmat_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return load_eegmat(eegmat_dir, [0, 1, 2, 5], cache_dir=cache)


def test_eegmat_features_are_the_live_pipelines(eegmat_dir, tmp_path):
    """A window's features in the training set are the ones the pipeline computes live from the
    same samples: the engine's filter from the file's first sample, its Welch spectrum."""
    import mne

    from neurofb.config import EngineConfig
    from neurofb.focus.card import sha256_file
    from neurofb.focus.features import model_features
    from neurofb.stream.pipeline import Pipeline
    from neurofb.types import Chunk, SourceInfo

    fs = load_subject(eegmat_dir, 0, cache_dir=tmp_path)
    raw1 = mne.io.read_raw_edf(eegmat_dir / "Subject00_1.edf", verbose="error")
    raw2 = mne.io.read_raw_edf(eegmat_dir / "Subject00_2.edf", verbose="error")
    n_rest = int((raw1.n_times / 500 - 2) // 1) + 1
    n_task = int((raw2.n_times / 500 - 2) // 1) + 1
    assert fs.X.shape == (n_rest + n_task, 19, 50) and fs.X.dtype == np.float64
    assert list(fs.y) == [0] * n_rest + [1] * n_task
    assert fs.t[n_rest] == pytest.approx(raw1.n_times / 500)  # the task follows the rest
    assert fs.ch_names[6] == "T7" and fs.ch_names[10] == "P7"
    # the task recording through the live pipeline: window 5 ends at 7 s
    picks = [n for n in raw2.ch_names if n.startswith("EEG") and n != "EEG A2-A1"]
    data = raw2.get_data(picks=picks, stop=4000) * 1e6
    info = SourceInfo(fs.ch_names, 500.0, "eegmat", live=False)
    got = {}

    class Keep:
        def bind(self, names, sfreq, *, hop_s=None):
            return self

        name, ch_names, sfreq, stateless = "keep", fs.ch_names, 500.0, False

        def reset(self):
            pass

        def predict(self, windows, features, *, t_end=None):
            from neurofb.focus.base import FocusBatch

            for t, p in zip(t_end, features.psd, strict=True):
                got[round(float(t), 3)] = model_features(p, features.freqs)
            return FocusBatch(np.full(len(windows), 0.5))

    with Pipeline(info, Keep(), EngineConfig(hop_s=1.0, min_quality=0.0)) as pipe:
        pipe.process(Chunk(data, np.arange(data.shape[1]) / 500, fs.ch_names, 500.0))
    np.testing.assert_allclose(got[7.0], fs.X[n_rest + 5], rtol=0, atol=1e-12)
    assert [f["sha256"] for f in fs.files] == [
        sha256_file(p) for p in (eegmat_dir / "Subject00_1.edf", eegmat_dir / "Subject00_2.edf")]
    assert set(fs.brainflow) == {"full", "cyton", "muse"}
    assert all(np.all((v >= 0) & (v <= 1)) for v in fs.brainflow.values())
    cached = load_subject(eegmat_dir, 0, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("eegmat-00-*.npz"))) == 1
    np.testing.assert_array_equal(cached.X, fs.X)
    np.testing.assert_array_equal(cached.brainflow["muse"], fs.brainflow["muse"])


def test_subject_lists(eegmat_dir, tmp_path):
    assert parse_subjects("0,2-3", [0, 1, 2, 3, 5]) == [0, 2, 3]
    assert parse_subjects(None, [5, 1]) == [1, 5]
    with pytest.raises(DatasetError, match=r"\[4\] are not in"):
        parse_subjects("0,4", [0, 1])
    with pytest.raises(DatasetError, match="bad subject list"):
        parse_subjects("zero", [0])
    # a reversed range or an empty list selects nobody: said, not a traceback later
    with pytest.raises(DatasetError, match=r"bad subject range '2-0' in '0,2-0': write the "
                                           r"lower number first \(0-2\)"):
        parse_subjects("0,2-0", [0, 1, 2])
    with pytest.raises(DatasetError, match="no subject in ','"):
        parse_subjects(",", [0, 1])
    with pytest.raises(DatasetError, match="does not exist"):
        load_eegmat(tmp_path / "none")
    with pytest.raises(DatasetError, match="no complete eegmat subject"):
        load_eegmat(tmp_path)


def test_members_are_validated_on_disjoint_subject_groups():
    groups = member_groups([0, 1, 2, 5, 6, 7, 9], 3, seed=3)
    flat = [s for g in groups for s in g]
    assert sorted(flat) == [0, 1, 2, 5, 6, 7, 9] and len(set(flat)) == 7
    assert member_groups([0, 1, 2, 5, 6, 7, 9], 3, seed=3) == groups


def test_training_learns_and_is_reproducible(features, tmp_path):
    recipe = tiny_recipe(max_epochs=3, patience=5)
    rows = []
    a = train_ensemble(features, recipe=recipe, logdir=tmp_path / "tb", progress=rows.append)
    b = train_ensemble(features, recipe=recipe)
    assert a.model.n_members == 2 and len(a.members) == 2
    vals = [set(info["val_subjects"]) for info in a.members]
    assert not vals[0] & vals[1] and vals[0] | vals[1] == set(features.subjects)
    for info in a.members:
        assert info["n_train"] + info["n_val"] <= len(features)
        assert info["stage2"]["best_epoch"] <= 3 and len(info["stage1"]["history"]) >= 2
    assert {r["stage"] for r in rows} == {"stage1", "stage2"}
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(v, b.model.state_dict()[k])
    assert list((tmp_path / "tb" / "cold").glob("events.out.tfevents.*"))
    assert a.device == "cpu" and a.world_size == 1
    # the linear stage alone already ranks the windows of its validation people
    best = [info["stage1"]["best_val_auc"] for info in a.members]
    assert max(best) > 0.6


def test_a_cancelled_training_resumes_to_the_same_model(features, tmp_path):
    recipe = tiny_recipe(max_epochs=3, patience=5)
    full = train_ensemble(features, recipe=recipe)
    ckpt = tmp_path / "ckpt"
    epochs = []

    def stop_after_four() -> bool:
        return len(epochs) >= 4

    with pytest.raises(Cancelled):
        train_ensemble(features, recipe=recipe, checkpoint_dir=ckpt,
                       progress=epochs.append, cancel=stop_after_four)
    names = sorted(p.name for p in ckpt.iterdir())  # one pair: the tensors and the state
    assert len(names) == 2 and names[1] == "state.json"
    assert json.loads((ckpt / "state.json").read_text())["_tensors_file"] == names[0]
    resumed = train_ensemble(features, recipe=recipe, checkpoint_dir=ckpt, resume=True)
    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(v, resumed.model.state_dict()[k], rtol=0, atol=0)
    from neurofb.errors import ModelError

    with pytest.raises(ModelError, match="another training"):
        train_ensemble(features, recipe=replace(recipe, lr=5e-3), checkpoint_dir=ckpt,
                       resume=True)
    with pytest.raises(ModelError, match="no checkpoint"):
        train_ensemble(features, recipe=recipe, checkpoint_dir=tmp_path / "empty", resume=True)


def test_a_ctrl_c_in_the_middle_of_a_checkpoint_save_resumes_to_the_same_model(
        features, tmp_path, monkeypatch):
    """Ctrl-C after a save wrote the new tensors but before state.json replaced the old one (an
    instant no test can hit on demand: os.replace is wrapped to raise there, the files are
    real): the checkpoint is still the previous pair, and resuming from it gives the model an
    uninterrupted training gives, bit for bit."""
    import neurofb.training.checkpoint as checkpoint

    recipe = tiny_recipe(max_epochs=3, patience=5)
    full = train_ensemble(features, recipe=recipe)
    ckpt = tmp_path / "ckpt"
    saves = []
    real_replace = os.replace

    def replace_then_interrupt(src, dst):
        if Path(dst).name == checkpoint.STATE:
            saves.append(dst)
            if len(saves) == 4:
                raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_ensemble(features, recipe=recipe, checkpoint_dir=ckpt)
    monkeypatch.setattr(checkpoint.os, "replace", real_replace)
    resumed = train_ensemble(features, recipe=recipe, checkpoint_dir=ckpt, resume=True)
    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(v, resumed.model.state_dict()[k], rtol=0, atol=0)
    assert [info["stage2"]["history"] for info in resumed.members] == [
        info["stage2"]["history"] for info in full.members]


def test_one_class_and_bad_recipes_are_refused(features):
    with pytest.raises(ValueError, match="both classes"):
        train_ensemble(features.take(features.y == 0), recipe=tiny_recipe())
    with pytest.raises(ValueError, match="subset_prob"):
        Recipe(subset_prob=2.0)
    with pytest.raises(ValueError, match="n_members"):
        Recipe(n_members=0)
    # the network's shape is checked with the recipe, before any data is loaded
    with pytest.raises(ValueError, match=r"d_model \(32\) must be a multiple of n_heads \(3\)"):
        Recipe(n_heads=3)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 2"):
        Recipe(dropout=2.0)


def test_recording_windows_follow_the_labelled_blocks(eegmat_dir, tmp_path, capsys):
    from neurofb.recording import open_recording
    from neurofb.training.recordings import load_recordings, recording_windows

    path = write_calibration_recording(tmp_path / "rec", eegmat_dir, 1, rest_s=20, task_s=15)
    fs = recording_windows(open_recording(path))
    assert int((fs.y == 0).sum()) == 19 and int((fs.y == 1).sum()) == 14
    assert np.all(fs.t[fs.y == 0] + 2 <= 20 + 1e-9) and np.all(fs.t[fs.y == 1] >= 20 - 1e-9)
    assert len(fs.ch_names) == 19 and fs.files[0]["sha256"] and fs.X.shape[2] == 50
    both = load_recordings([tmp_path])  # a folder of recordings
    assert len(both) == len(fs)
    # the same recording twice (or a copy of it) would be trained on and validated on
    import shutil

    from neurofb.errors import NeurofbError

    shutil.copytree(path, tmp_path / "copy")
    for twice in ([path, path], [path, tmp_path / "copy"]):
        with pytest.raises(NeurofbError, match=r"is given twice|hold the same recording"):
            load_recordings(twice)
    # ... and as two items of train --recordings, each loaded on its own
    for twice in ([path, path], [path, tmp_path / "copy"]):
        code = main(["train", "--recordings", *map(str, twice), "--members", "2", "--epochs",
                     "1", "--out", str(tmp_path / "model")])
        assert code == 2 and not (tmp_path / "model").exists()
        assert "give each recording once" in capsys.readouterr().err


def test_cli_train_writes_a_loadable_model_of_both_modes(eegmat_dir, tmp_path, capsys):
    from neurofb.focus.io import load_model
    from neurofb.focus.neural import load_estimator

    folder = small_eegmat(tmp_path, eegmat_dir, (0, 1, 2, 5))
    out = tmp_path / "model"
    args = ["train", "--eegmat", str(folder), "--epochs", "2", "--members", "2",
            "--d-model", "8", "--heads", "2", "--out", str(out), "--cache",
            str(tmp_path / "cache"), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(out) and set(summary["seconds"]) == {"cold", "baseline"}
    models, meta = load_model(out)
    assert set(models) == {"cold", "baseline"} and models["cold"].n_members == 2
    assert meta["training"]["data"]["eegmat"]["subjects"] == [0, 1, 2, 5]
    assert len(meta["training"]["data"]["eegmat"]["files"]) == 8
    assert meta["input"]["channels"][6] == "T7" and meta["baseline"]["baseline_s"] == 60.0
    assert meta["training"]["modes"]["baseline"]["recipe"]["n_members"] == 2
    assert load_estimator(out, baseline_s=60.0).modes == ("cold", "baseline")
    assert main(args) == 2  # refuses to overwrite
    assert "already holds a model" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "x")]) == 2
    assert "--eegmat" in capsys.readouterr().err
