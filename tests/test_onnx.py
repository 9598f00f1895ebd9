"""The network as ONNX: export, ONNX Runtime in the engine (no torch), hashes, parity with torch
on real eegmat windows, the float64 erf, BrainFlow's MLModel running the exported graph."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from neurofb import paths
from neurofb.dsp import montage
from neurofb.errors import ModelError
from neurofb.focus.card import read_meta, sha256_file
from neurofb.focus.export import erf_reference, export_brainflow, export_folder
from neurofb.focus.io import load_model, save_model
from neurofb.focus.model import FocusNet
from neurofb.focus.neural import load_estimator, resample_windows
from neurofb.focus.runtime import load_network, sigmoid

SHIPPED = paths.default_model_dir()


@pytest.fixture
def tiny(tmp_path):
    torch.manual_seed(3)
    m = FocusNet(d_model=8, n_heads=2, n_layers=1)
    with torch.no_grad():
        m.feat_mean.normal_()
    return save_model(m, tmp_path / "tiny", {"input": {"sfreq": 128.0, "window_s": 2.0}})


def test_every_model_folder_gets_a_hashed_graph(tiny):
    meta = read_meta(tiny)
    section = meta["onnx"]
    assert (tiny / "model.onnx").is_file()
    assert section["sha256"] == sha256_file(tiny / "model.onnx")
    assert section["weights_sha256"] == meta["weights"]["sha256"]
    assert section["dtype"] == "float64" and section["opset"] == 16
    assert [t["name"] for t in section["inputs"]] == ["x", "pos"]
    assert [t["name"] for t in section["outputs"]] == ["logit", "attention"]
    assert section["checked_max_abs_diff"] < 1e-12
    # the shipped model carries its graph too, and it loads
    assert read_meta(SHIPPED)["onnx"]["sha256"] == sha256_file(SHIPPED / "model.onnx")
    load_network(SHIPPED, read_meta(SHIPPED))


def test_tampered_graph_is_refused(tiny):
    path = tiny / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"model\.onnx does not match model\.json"):
        load_estimator(tiny)


def test_graph_of_other_weights_is_refused(tiny, tmp_path):
    torch.manual_seed(4)
    other = save_model(FocusNet(d_model=8, n_heads=2, n_layers=1), tmp_path / "other",
                       {"input": {"sfreq": 128.0, "window_s": 2.0}})
    # a consistent-looking folder: the other model's graph, its hash written into model.json
    (tiny / "model.onnx").write_bytes((other / "model.onnx").read_bytes())
    meta = json.loads((tiny / "model.json").read_text())
    meta["onnx"]["sha256"] = sha256_file(tiny / "model.onnx")
    (tiny / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="weights hash"):
        load_estimator(tiny)
    meta["onnx"]["weights_sha256"] = "0" * 64
    (tiny / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="other weights"):
        load_estimator(tiny)


def test_folder_without_a_graph_says_how_to_export_it(tiny, capsys):
    from neurofb.cli import main

    meta = json.loads((tiny / "model.json").read_text())
    del meta["onnx"]
    (tiny / "model.json").write_text(json.dumps(meta))
    (tiny / "model.onnx").unlink()
    with pytest.raises(ModelError, match="neurofb export-model"):
        load_estimator(tiny)
    assert main(["export-model", str(tiny)]) == 0
    assert "model.onnx" in capsys.readouterr().out
    assert load_estimator(tiny).onnx_sha256 == sha256_file(tiny / "model.onnx")


def test_missing_graph_file_is_refused(tiny):
    (tiny / "model.onnx").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_estimator(tiny)


def test_graph_is_protobuf_not_pickle(tiny):
    import onnx

    raw = (tiny / "model.onnx").read_bytes()
    assert not raw.startswith(b"\x80")  # a pickle starts with the PROTO opcode
    proto = onnx.load_from_string(raw)
    ops = {n.op_type for n in proto.graph.node}
    assert "Erf" not in ops and all(n.domain in ("", "ai.onnx") for n in proto.graph.node)


def test_engine_path_never_imports_torch():
    code = (
        "import sys, numpy as np\n"
        "from neurofb.focus.targets import make_estimator\n"
        "from neurofb.dsp import montage\n"
        "b = make_estimator('model').bind(montage.preset('cyton'), 250.0)\n"
        "f = b.predict(np.random.default_rng(0).normal(0, 10, (2, 8, 500))).focus\n"
        "assert f.shape == (2,)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_float64_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 200_001), [0.0, 5.999999, 6.0, 1e-300, -1e-300]])
    ref = np.array([math.erf(v) for v in x])
    got = erf_reference(x)
    assert np.max(np.abs(got - ref)) < 1e-15
    assert np.all(np.abs(got) <= 1.0) and got[-5] == 0.0


def test_sigmoid_is_float64_and_stable():
    z = np.array([-800.0, -30.0, 0.0, 1e-12, 30.0, 800.0])
    s = sigmoid(z)
    assert s.dtype == np.float64 and np.all(np.isfinite(s))
    np.testing.assert_allclose(s, [1 / (1 + math.exp(-v)) if v > -700 else 0.0 for v in z],
                               rtol=1e-15, atol=0)


def _eegmat_windows(eegmat_dir, subjects):
    from neurofb.training.eegmat import load_eegmat

    return load_eegmat(eegmat_dir, subjects)


def test_onnx_matches_torch_on_real_eegmat_windows(eegmat_dir):
    """The shipped graph against the shipped weights in torch (float64), window by window."""
    from sklearn.metrics import roc_auc_score

    ws = _eegmat_windows(eegmat_dir, [6, 15])  # every rest and task window of two people
    model, _ = load_model(SHIPPED)
    model = model.double().eval()
    pos = montage.positions(ws.ch_names)
    network = load_network(SHIPPED, read_meta(SHIPPED))
    with torch.inference_mode():
        logit_t, att_t = model(torch.as_tensor(ws.X, dtype=torch.float64),
                               torch.as_tensor(pos, dtype=torch.float64))
    logit_o = np.empty(len(ws.X))
    att_o = np.empty(att_t.shape)
    for i in range(len(ws.X)):
        lo, ao = network.run({"x": ws.X[i : i + 1].astype(np.float64), "pos": pos})
        logit_o[i], att_o[i] = lo[0], ao[0]
    focus_t = torch.sigmoid(logit_t).numpy()
    assert np.max(np.abs(sigmoid(logit_o) - focus_t)) < 1e-6
    assert np.max(np.abs(att_o - att_t.numpy())) < 1e-6
    auc_t, auc_o = roc_auc_score(ws.y, focus_t), roc_auc_score(ws.y, sigmoid(logit_o))
    assert auc_o == pytest.approx(auc_t, abs=1e-9)
    assert 0.5 < auc_o < 1.0  # a real, imperfect score: the comparison can fail


def test_engine_estimator_is_the_network_on_resampled_windows(tiny):
    names = list(montage.preset("cyton"))
    rng = np.random.default_rng(5)
    windows = rng.normal(0, 10, (3, len(names), 500))
    out = load_estimator(tiny).bind(names, 250.0).predict(windows)
    model, _ = load_model(tiny)
    x = torch.as_tensor(resample_windows(windows, 250.0, 128.0, dtype=np.float64))
    pos = torch.as_tensor(montage.positions(names), dtype=torch.float64)
    with torch.inference_mode():
        logit, att = model.double()(x, pos)
    np.testing.assert_allclose(out.focus, torch.sigmoid(logit).numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.explanation, att.numpy(), rtol=0, atol=1e-12)


def test_reexport_is_reproducible(tiny):
    before = sha256_file(tiny / "model.onnx")
    section = export_folder(tiny)
    assert section["sha256"] == before == sha256_file(tiny / "model.onnx")


def test_brainflow_mlmodel_runs_the_exported_graph(tmp_path):
    """BrainFlow's own ONNX classifier loads the one-input graph and gives the engine's focus."""
    from brainflow.ml_model import (
        BrainFlowClassifiers,
        BrainFlowMetrics,
        BrainFlowModelParams,
        MLModel,
    )

    names = ["Fz", "C3", "Cz", "C4", "Pz", "O1", "O2", "Fp1"]
    info = export_brainflow(SHIPPED, names, tmp_path / "focus-bf.onnx")
    assert info["shape"] == [1, 8, 256] and info["channels"] == names
    rng = np.random.default_rng(7)
    windows = rng.normal(0, 15, (3, 8, 500))
    engine = load_estimator(SHIPPED).bind(names, 250.0)
    want = engine.predict(windows).focus
    params = BrainFlowModelParams(BrainFlowMetrics.USER_DEFINED.value,
                                  BrainFlowClassifiers.ONNX_CLASSIFIER.value)
    params.file = str(tmp_path / "focus-bf.onnx")
    params.output_name = "focus"
    model = MLModel(params)
    model.prepare()
    try:
        got = [model.predict(engine.prepare(w[None])[0].astype(np.float64).ravel())[0]
               for w in windows]
    finally:
        model.release()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert len(set(np.round(got, 6))) == 3  # three different windows, three different values
