"""Personalisation from a calibration recording: the model, the model folder, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from focus_helpers import tiny_config, write_calibration_recording

from neurofb.cli import main
from neurofb.errors import ModelError
from neurofb.focus.card import sha256_file
from neurofb.focus.io import load_model
from neurofb.training.eegmat import load_eegmat
from neurofb.training.model_folder import save_trained_model
from neurofb.training.personalise import hold_back, personalise, personalise_windows
from neurofb.training.train import predict, train

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained(eegmat_dir, tmp_path_factory):
    """A tiny model trained on subjects 0 and 2, exported as a model folder."""
    ws = load_eegmat(eegmat_dir, [0, 2], cache_dir=tmp_path_factory.mktemp("cache"))
    result = train(ws, config=tiny_config(max_epochs=2))
    out = save_trained_model(result, ws, tmp_path_factory.mktemp("m") / "base", data={"test": True},
                 name="base")
    return out


@pytest.fixture(scope="module")
def recording(eegmat_dir, tmp_path_factory):
    """A real neurofb recording of subject 1: 60 s rest then 40 s arithmetic, labelled."""
    return write_calibration_recording(tmp_path_factory.mktemp("rec") / "cal", eegmat_dir, 1,
                                       rest_s=60, task_s=40)


def test_hold_back_takes_the_latest_windows_without_overlap(eegmat_dir, recording):
    from neurofb.recording import open_recording
    from neurofb.training.recordings import recording_windows

    ws = recording_windows(open_recording(recording))
    cal, held = hold_back(ws, 0.3)
    for c in (0, 1):
        assert cal.t[cal.y == c].max() + 2 <= held.t[held.y == c].min() + 1e-9
    assert 0.2 < len(held) / len(ws) < 0.4
    with pytest.raises(ValueError, match="fraction"):
        hold_back(ws, 1.0)


def test_personalise_windows_adapts_a_copy(trained, eegmat_dir, tmp_path):
    model, _ = load_model(trained)
    ws = load_eegmat(eegmat_dir, [1], cache_dir=tmp_path)
    before_state = {k: v.clone() for k, v in model.state_dict().items()}
    res = personalise_windows(model, ws, epochs=20)
    for k, v in model.state_dict().items():  # the original is untouched
        torch.testing.assert_close(v, before_state[k])
    assert not torch.allclose(res.model.feat_mean, model.feat_mean)
    loss = torch.nn.functional.binary_cross_entropy

    def fit(m):
        p = torch.as_tensor(predict(m, ws)[0], dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
        ratio = float((ws.y == 0).sum() / (ws.y == 1).sum())
        w = torch.where(torch.as_tensor(ws.y) == 1, ratio, 1.0).double()
        return float(loss(p, torch.as_tensor(ws.y, dtype=torch.float64), weight=w))

    assert fit(res.model) < fit(model)
    assert res.n_windows == len(ws) and res.seconds > 0
    steps = []
    personalise_windows(model, ws, epochs=3, progress=lambda i, n: steps.append((i, n)))
    assert steps == [(1, 3), (2, 3), (3, 3)]
    from neurofb.training.train import Cancelled

    with pytest.raises(Cancelled):
        personalise_windows(model, ws, epochs=3, cancel=lambda: True)


def test_personalise_writes_a_traceable_model(trained, recording, tmp_path):
    out = tmp_path / "personal"
    res = personalise(trained, recording, out)
    _, meta = load_model(out)
    parent_meta = json.loads((trained / "model.json").read_text())
    assert meta["parent"]["sha256"] == parent_meta["weights"]["sha256"]
    assert meta["parent"]["sha256"] == sha256_file(trained / "weights.safetensors")
    cal = meta["calibration"]
    assert len(cal["data"][0]["sha256"]) == 64
    assert cal["windows_used"] == res["windows"] and cal["windows_held_back"] == res["held_back"]
    for key in ("before", "after"):
        assert 0 <= res[key]["auc"] <= 1
    assert meta["name"] == "base-personal"
    with pytest.raises(ModelError, match="already holds a model"):
        personalise(trained, recording, out)


def test_personalise_needs_both_classes(trained, eegmat_dir, tmp_path):
    ws = load_eegmat(eegmat_dir, [1], cache_dir=tmp_path)
    with pytest.raises(ModelError, match="both rest and task"):
        personalise(trained, ws.take(ws.y == 0), tmp_path / "x")


def test_cli_calibrate(trained, recording, tmp_path, capsys):
    out = tmp_path / "me"
    assert main(["calibrate", "--model", str(trained), "--recording", str(recording),
                 "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["out_dir"] == str(out) and np.isfinite(res["after"]["auc"])
    assert (out / "weights.safetensors").is_file()
    assert main(["calibrate", "--model", str(trained), "--recording", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "me2")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_personal_head_is_the_fitted_logistic_regression(trained, eegmat_dir, tmp_path):
    """The head reproduces scikit-learn's stacked regression and is tied to its electrodes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from neurofb.training.train import log_spectra

    model, _ = load_model(trained)
    ws = load_eegmat(eegmat_dir, [1], cache_dir=tmp_path).pick(("Fp1", "Fp2", "T7", "T8"))
    cal, held = hold_back(ws, 0.3)
    res = personalise_windows(model, cal, epochs=10)
    head = res.model.personal
    assert head is not None and head.n_chans == 4
    assert res.model.hparams["personal_channels"] == 4 and model.personal is None
    # the same regression by hand: the population part's logit + log band powers per electrode
    pop = res.model.population()
    assert pop.personal is None and "personal_channels" not in pop.hparams
    lp = log_spectra(pop, cal.X, torch.device("cpu"))
    pos = torch.as_tensor(cal.positions(), dtype=torch.float32)
    with torch.no_grad():
        logit, _ = pop.forward_spectrum(lp, pos)
        z = head.features(logit, lp).double().numpy()
    sc = StandardScaler().fit(z)
    lr = LogisticRegression(class_weight="balanced", max_iter=5000).fit(sc.transform(z), cal.y)
    lp_held = log_spectra(pop, held.X, torch.device("cpu"))
    with torch.no_grad():
        logit_held, _ = pop.forward_spectrum(lp_held, pos)
        expected = lr.predict_proba(sc.transform(
            head.features(logit_held, lp_held).double().numpy()))[:, 1]
    np.testing.assert_allclose(predict(res.model, held)[0], expected, atol=1e-4)
    assert not np.allclose(expected, predict(pop, held)[0], atol=1e-2)
    with pytest.raises(ValueError, match="calibrated on 4 electrodes"):
        res.model(torch.zeros(1, 3, 256), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="all of its calibration electrodes"):
        res.model(torch.zeros(1, 4, 256), pos, torch.tensor([[True, True, True, False]]))
    no_head = personalise_windows(model, cal, epochs=0, stack=False).model
    assert no_head.personal is None


def test_personalised_model_binds_to_its_electrodes_in_its_order(trained, recording, tmp_path):
    from neurofb.errors import ChannelError
    from neurofb.focus.neural import load_estimator

    out = tmp_path / "personal"
    personalise(trained, recording, out)
    meta = json.loads((out / "model.json").read_text())
    electrodes = meta["input"]["personal_electrodes"]
    assert len(electrodes) >= 8
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
    del meta["input"]["personal_electrodes"]
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="personal_electrodes"):
        load_estimator(out).bind(electrodes, 250.0)


def test_retrain_from_recordings_starts_from_the_population_part(trained, recording, eegmat_dir,
                                                                 tmp_path):
    from neurofb.errors import NeurofbError
    from neurofb.training.retrain import retrain_from_recordings

    personal = tmp_path / "personal"
    personalise(trained, recording, personal)
    assert load_model(personal)[0].personal is not None
    res = retrain_from_recordings(personal, [recording], tmp_path / "again",
                                  config=tiny_config(max_epochs=1))
    model, meta = load_model(res["out_dir"])
    assert model.personal is None and res["windows"] > 50
    assert meta["parent"]["sha256"] == sha256_file(personal / "weights.safetensors")
    assert meta["training"]["data"]["recordings"]["windows"] == res["windows"]
    with pytest.raises(ModelError, match="already holds a model"):
        retrain_from_recordings(personal, [recording], tmp_path / "again",
                                config=tiny_config(max_epochs=1))
    rest_only = write_calibration_recording(tmp_path / "rest", eegmat_dir, 1, rest_s=30,
                                            task_s=1)  # no whole 2 s task window
    with pytest.raises(NeurofbError, match="only one class"):
        retrain_from_recordings(trained, [rest_only], tmp_path / "x",
                                config=tiny_config(max_epochs=1))
