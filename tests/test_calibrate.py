"""Calibrated mode: personal heads from a calibration recording, the personalised folder, the CLI,
retraining from recordings."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import torch
from focus_helpers import tiny_model_dir, tiny_recipe, write_calibration_recording

from neurofb.cli import main
from neurofb.errors import ChannelError, ModelError
from neurofb.focus.card import read_meta, sha256_file
from neurofb.focus.neural import load_estimator
from neurofb.training.personalise import (
    RECOMMENDED_S,
    fit_heads,
    hold_back,
    improved,
    personalise,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory.mktemp("m"), "base")


@pytest.fixture(scope="module")
def recording(eegmat_dir, tmp_path_factory):
    """A real neurofb recording of subject 1: 60 s rest then 40 s arithmetic, labelled."""
    return write_calibration_recording(tmp_path_factory.mktemp("rec") / "cal", eegmat_dir, 1,
                                       rest_s=60, task_s=40)


@pytest.fixture(scope="module")
def cal_features(recording):
    from neurofb.recording import open_recording
    from neurofb.training.recordings import recording_windows

    return recording_windows(open_recording(recording))


@pytest.fixture(scope="module")
def unfollowed(eegmat_dir, tmp_path_factory):
    """Subject 1's calibration whose blocks were not followed in their last 15 s."""
    return write_calibration_recording(tmp_path_factory.mktemp("rec") / "unfollowed", eegmat_dir,
                                       1, rest_s=60, task_s=40, unfollowed_s=15)


def test_hold_back_takes_the_latest_windows_without_overlap(cal_features):
    cal, held = hold_back(cal_features, 0.3)
    for label in (0, 1):
        c, h = cal.t[cal.y == label], held.t[held.y == label]
        assert c.max() + 2 <= h.min() + 1e-9  # no shared samples
        assert 0.2 < len(h) / (len(c) + len(h)) < 0.4


def test_heads_are_the_fitted_logistic_regressions(population, cal_features):
    from sklearn.linear_model import LogisticRegression

    from neurofb.training.personalise import graph_logits

    bound = load_estimator(population).bind(cal_features.ch_names, 500.0)
    heads = fit_heads(bound, cal_features)
    assert set(heads) == {"cold", "baseline"} and heads["cold"].n_chans == 19
    logit = graph_logits(bound, "cold", cal_features.X)
    x = np.concatenate([logit[:, None], cal_features.X[..., :5].reshape(len(logit), -1)], 1)
    z = (x - x.mean(0)) / (x.std(0) + 1e-6)
    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000).fit(
        z, cal_features.y)
    np.testing.assert_allclose(heads["cold"].predict_logit(logit, cal_features.X),
                               lr.decision_function(z), rtol=1e-9, atol=1e-9)


def test_personalise_writes_a_traceable_folder(population, recording, tmp_path):
    out = tmp_path / "personal"
    res = personalise(population, recording, out)
    assert res["after"]["auc"] > 0.8  # a person's own head on their own signals
    meta = json.loads((out / "model.json").read_text())
    assert meta["parent"]["sha256"] == sha256_file(population / "weights.safetensors")
    # dated when it was personalised (the model page lists models newest first)
    parent_created = json.loads((population / "model.json").read_text())["created"]
    assert dt.datetime.fromisoformat(meta["created"]) >= dt.datetime.fromisoformat(parent_created)
    assert meta["calibration"]["data"][0]["sha256"]
    assert meta["personal"]["sha256"] == sha256_file(out / "personal.safetensors")
    for name in ("weights.safetensors", "model.onnx", "baseline.onnx"):
        assert sha256_file(out / name) == sha256_file(population / name)  # unchanged
    with pytest.raises(ModelError, match="already holds a model"):
        personalise(population, recording, out)
    with pytest.raises(ModelError, match="already personalised"):
        personalise(out, recording, tmp_path / "again")
    (out / "personal.safetensors").write_bytes(b"x" * 100)
    with pytest.raises(ModelError, match=r"personal\.safetensors does not match"):
        load_estimator(out)


def test_personalised_model_binds_to_its_electrodes_in_its_order(population, recording,
                                                                 tmp_path):
    out = tmp_path / "personal"
    personalise(population, recording, out)
    electrodes = json.loads((out / "model.json").read_text())["personal"]["electrodes"]
    est = load_estimator(out)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, len(electrodes), 500)) * 10
    in_order = est.bind(electrodes, 250.0).predict(x)
    shuffled = [*reversed(electrodes), "ECG"]
    x_shuffled = np.concatenate([x[:, ::-1], np.zeros((3, 1, 500))], axis=1)
    other = est.bind(shuffled, 250.0).predict(x_shuffled)
    np.testing.assert_allclose(other.focus, in_order.focus, rtol=1e-12)
    np.testing.assert_allclose(other.explanation[:, :-1][:, ::-1], in_order.explanation)
    with pytest.raises(ChannelError, match=f"lacks {electrodes[0]}"):
        est.bind(electrodes[1:], 250.0)


def test_personalise_needs_both_classes(population, eegmat_dir, tmp_path):
    rest_only = write_calibration_recording(tmp_path / "rest", eegmat_dir, 1, rest_s=30,
                                            task_s=1)  # no whole 2 s task window
    with pytest.raises(ModelError, match="both rest and task"):
        personalise(population, rest_only, tmp_path / "out")


def test_a_short_calibration_calibrates_with_a_warning_a_long_one_without(
        population, recording, eegmat_dir, tmp_path, capsys):
    short = write_calibration_recording(tmp_path / "short", eegmat_dir, 1, rest_s=12,
                                        task_s=12)
    res = personalise(population, short, tmp_path / "s")
    assert res["windows"] + res["held_back"] < 2 * RECOMMENDED_S
    assert len(res["notes"]) == 1 and "short calibration: 12 s of clean rest" in res["notes"][0]
    assert read_meta(tmp_path / "s")["calibration"]["notes"] == res["notes"]
    assert main(["calibrate", "--model", str(population), "--recording", str(short),
                 "--out", str(tmp_path / "cli")]) == 0
    err = capsys.readouterr().err
    assert "warning: a short calibration" in err and f"{RECOMMENDED_S:g} s" in err
    # exactly the recommended length is not short (30 s of rest is 29 windows of 2 s)
    exact = write_calibration_recording(tmp_path / "exact", eegmat_dir, 1, rest_s=30,
                                        task_s=30)
    assert personalise(population, exact, tmp_path / "x")["notes"] == []
    assert personalise(population, recording, tmp_path / "long")["notes"] == []
    assert main(["calibrate", "--model", str(population), "--recording", str(recording),
                 "--out", str(tmp_path / "cli-long")]) == 0
    assert "short calibration" not in capsys.readouterr().err


def test_a_calibration_whose_blocks_were_not_followed_does_worse_and_is_flagged(
        population, recording, unfollowed, tmp_path, capsys):
    good = personalise(population, recording, tmp_path / "good")
    assert improved(good)
    # The held-back windows (the latest of each block) hold the other state: the person's own
    # head, fitted on the followed part, ranks them the wrong way round, worse than before.
    bad = personalise(population, unfollowed, tmp_path / "bad")
    assert bad["after"]["auc"] < 0.5 and bad["after"]["auc"] < bad["before"]["auc"]
    assert not improved(bad)
    assert main(["calibrate", "--model", str(population), "--recording", str(unfollowed),
                 "--out", str(tmp_path / "cli")]) == 0
    err = capsys.readouterr().err
    assert "did worse" in err and "blocks followed" in err


def test_cli_calibrate(population, recording, tmp_path, capsys):
    out = tmp_path / "me"
    assert main(["calibrate", "--model", str(population), "--recording", str(recording),
                 "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert {"before", "after", "after_baseline", "electrodes"} <= set(res)
    assert main(["calibrate", "--model", str(population), "--recording", str(recording),
                 "--out", str(out)]) == 2
    assert "already holds a model" in capsys.readouterr().err
    assert main(["calibrate", "--model", str(population), "--recording", str(recording),
                 "--out", str(out), "--force"]) == 0
    printed = capsys.readouterr()
    assert "tied to the electrodes" in printed.out and "did worse" not in printed.err


def test_retrain_from_recordings_keeps_both_modes(population, recording, eegmat_dir, tmp_path):
    from neurofb.errors import NeurofbError
    from neurofb.focus.io import load_model
    from neurofb.training.retrain import retrain_from_recordings

    personal = tmp_path / "personal"
    personalise(population, recording, personal)
    res = retrain_from_recordings(personal, [recording], tmp_path / "again",
                                  recipe=tiny_recipe(max_epochs=1))
    models, meta = load_model(res["out_dir"])
    assert set(models) == {"cold", "baseline"} and "personal" not in meta
    assert meta["parent"]["sha256"] == sha256_file(personal / "weights.safetensors")
    assert meta["training"]["data"]["recordings"]["windows"] == res["windows"] > 50
    assert meta["parent"]["path"] == str(personal.resolve())  # absolute, not as typed
    with pytest.raises(ModelError, match="already holds a model"):
        retrain_from_recordings(personal, [recording], tmp_path / "again",
                                recipe=tiny_recipe(max_epochs=1))
    rest_only = write_calibration_recording(tmp_path / "rest", eegmat_dir, 1, rest_s=30,
                                            task_s=1)
    with pytest.raises(NeurofbError, match="only one class"):
        retrain_from_recordings(population, [rest_only], tmp_path / "x",
                                recipe=tiny_recipe(max_epochs=1))


def test_a_personalised_model_does_not_export_without_its_head(population, recording,
                                                               tmp_path):
    # The graphs hold the population network only: exporting them from a personalised folder
    # would silently drop the person's head, so both deployment exports refuse it.
    from neurofb.focus.export import export_brainflow, export_int8

    personal = tmp_path / "me"
    personalise(population, recording, personal)
    with pytest.raises(ModelError, match="personalised model's head is not part of its graph"):
        export_int8(personal, tmp_path / "int8.onnx")
    with pytest.raises(ModelError, match="personalised model's head is not part of its graph"):
        export_brainflow(personal, ["Fz", "Cz", "Pz"], tmp_path / "bf.onnx")
    assert not (tmp_path / "int8.onnx").exists() and not (tmp_path / "bf.onnx").exists()
    assert export_int8(population, tmp_path / "int8.onnx")["mode"] == "cold"


def test_a_recording_scored_with_a_personal_model_names_its_heads(population, recording,
                                                                   tmp_path):
    # Two personalisations of one parent share its weights: the recording's model_hash is the
    # heads' hash (the parent's weights in model_parent_hash), so the library tells them apart.
    from neurofb.recording import open_recording
    from neurofb.stream.assemble import RecordRequest, ReplayRequest, StreamRequest, open_stream

    personal = tmp_path / "me"
    personalise(population, recording, personal)
    meta = read_meta(personal)
    request = StreamRequest(ReplayRequest(str(recording), speed=None, seconds=5.0),
                            model_dir=str(personal),
                            record=RecordRequest(path=str(tmp_path / "rec")))
    stream = open_stream(request)
    stream.run()
    closed = stream.close()
    rec = open_recording(closed.recording.path).meta
    assert rec["model"] == "me" and rec["model_hash"] == meta["personal"]["sha256"]
    assert rec["model_parent_hash"] == meta["weights"]["sha256"] != rec["model_hash"]


def test_a_personal_model_names_its_parents_figures_as_the_parents(recording, tmp_path):
    # The shipped model's cross-validation is not the personal model's: model.json (and the
    # app's card, which labels rows by key) keep it as the parent's.
    from neurofb.paths import default_model_dir

    personalise(default_model_dir(), recording, tmp_path / "me")
    parent = read_meta(default_model_dir())["metrics"]
    mine = read_meta(tmp_path / "me")["metrics"]
    assert "cross_validation" in parent and "cross_validation" not in mine
    assert mine == {f"parent_{k}": v for k, v in parent.items()}


def test_a_model_retrained_in_the_app_keeps_its_parents_data(recording, tmp_path,
                                                             monkeypatch):
    # The shipped model retrained on a calibration: what the parent learnt from (24 eegmat
    # people) is recorded under training.data.parent, so evaluate sees the overlap; the card
    # says so in one line.
    from neurofb.focus.card import read_card
    from neurofb.focus.io import load_model
    from neurofb.paths import default_model_dir
    from neurofb.training.retrain import retrain_from_recordings

    monkeypatch.chdir(tmp_path)
    res = retrain_from_recordings(default_model_dir(), [recording], tmp_path / "again",
                                  recipe=tiny_recipe(max_epochs=1))
    _, meta = load_model(res["out_dir"])
    parent = read_meta(default_model_dir())["training"]["data"]
    assert meta["training"]["data"]["parent"] == parent and parent["eegmat"]["subjects"]
    assert meta["parent"]["path"] == str(default_model_dir().resolve())
    assert any(line.startswith("its parent's data (eegmat") for line in
               read_card(res["out_dir"]).training)


def test_a_baseline_network_kept_from_the_parent_records_no_autocast(population, eegmat_dir,
                                                                      tmp_path):
    # A calibration that does not start with the baseline's minute of rest keeps the parent's
    # baseline network: its recorded recipe is the one "as run" (nothing ran, no autocast).
    from neurofb.focus.io import load_model
    from neurofb.training.retrain import retrain_from_recordings

    short = write_calibration_recording(tmp_path / "short", eegmat_dir, 1, rest_s=15,
                                        task_s=40)  # under the 20 windows a baseline needs
    res = retrain_from_recordings(population, [short], tmp_path / "again",
                                  recipe=tiny_recipe(max_epochs=1, mixed_precision=True))
    modes = load_model(res["out_dir"])[1]["training"]["modes"]
    assert "kept from the parent" in str(modes["baseline"])
    assert all(m["recipe"]["mixed_precision"] is False for m in modes.values())
    # a minute of rest and nothing after it: baseline mode has no window to learn from, so
    # its network is kept too (it was "trained" on no window, its members marked n_train 0)
    rest_only_minute = write_calibration_recording(tmp_path / "minute", eegmat_dir, 1,
                                                   rest_s=30, task_s=30)
    res = retrain_from_recordings(population, [rest_only_minute], tmp_path / "again2",
                                  recipe=tiny_recipe(max_epochs=1))
    baseline = load_model(res["out_dir"])[1]["training"]["modes"]["baseline"]
    assert "kept from the parent" in str(baseline) and baseline["members"] == []
