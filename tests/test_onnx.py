"""The networks as ONNX: export, ONNX Runtime in the engine (no torch), hashes, parity with torch
on real eegmat windows, the graph specialised to the electrodes, BrainFlow's MLModel."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from focus_helpers import tiny_model_dir

from neurofb import paths
from neurofb.dsp import montage
from neurofb.dsp.features import band_powers
from neurofb.errors import ModelError
from neurofb.focus.card import read_meta, sha256_file
from neurofb.focus.export import export_brainflow, export_folder, export_int8
from neurofb.focus.features import model_features
from neurofb.focus.io import load_model
from neurofb.focus.neural import load_estimator
from neurofb.focus.runtime import load_network, sigmoid

SHIPPED = paths.default_model_dir()


@pytest.fixture
def tiny(tmp_path):
    return tiny_model_dir(tmp_path)


def test_every_model_folder_gets_hashed_graphs(tiny):
    meta = read_meta(tiny)
    section = meta["onnx"]
    assert section["sha256"] == sha256_file(tiny / "model.onnx")
    assert section["baseline"]["sha256"] == sha256_file(tiny / "baseline.onnx")
    assert section["weights_sha256"] == meta["weights"]["sha256"]
    assert section["dtype"] == "float64" and section["opset"] == 17
    assert [t["name"] for t in section["inputs"]] == ["feats", "pos"]
    assert [t["name"] for t in section["outputs"]] == ["logit", "attention"]
    assert section["checked_max_abs_diff"] < 1e-12
    # the shipped model carries its graphs too, and they load
    shipped = read_meta(SHIPPED)
    for mode in ("cold", "baseline"):
        load_network(SHIPPED, shipped, mode=mode)


def test_tampered_graph_is_refused(tiny):
    for name in ("model.onnx", "baseline.onnx"):
        path = tiny / name
        good = path.read_bytes()
        data = bytearray(good)
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        with pytest.raises(ModelError, match=rf"{name.replace('.', '[.]')} does not match"):
            load_estimator(tiny)
        path.write_bytes(good)


def test_graphs_of_other_weights_or_modes_are_refused(tiny, tmp_path):
    other = tiny_model_dir(tmp_path, "other", seed=7)
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
    # the baseline graph where the cold one should be
    export_folder(tiny)
    (tiny / "model.onnx").write_bytes((tiny / "baseline.onnx").read_bytes())
    meta = json.loads((tiny / "model.json").read_text())
    meta["onnx"]["sha256"] = sha256_file(tiny / "model.onnx")
    (tiny / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="'baseline' mode"):
        load_estimator(tiny)


def test_a_missing_graph_says_how_to_export_it(tiny, capsys):
    from neurofb.cli import main

    (tiny / "baseline.onnx").unlink()
    with pytest.raises(ModelError, match=r"missing.*neurofb export-model"):
        load_estimator(tiny)
    assert main(["export-model", str(tiny)]) == 0
    assert "baseline.onnx" in capsys.readouterr().out
    assert load_estimator(tiny).networks["baseline"].sha256 == sha256_file(
        tiny / "baseline.onnx")


def test_reexport_is_reproducible(tiny):
    before = (sha256_file(tiny / "model.onnx"), sha256_file(tiny / "baseline.onnx"))
    export_folder(tiny)
    assert (sha256_file(tiny / "model.onnx"), sha256_file(tiny / "baseline.onnx")) == before


def test_graph_is_protobuf_with_float64_standard_ops_only(tiny):
    import onnx

    raw = (tiny / "model.onnx").read_bytes()
    assert not raw.startswith(b"\x80")  # a pickle starts with the PROTO opcode
    proto = onnx.load_from_string(raw)
    ops = {n.op_type for n in proto.graph.node}
    assert "Erf" not in ops and all(n.domain in ("", "ai.onnx") for n in proto.graph.node)
    assert {i.name: i.type.tensor_type.elem_type for i in proto.graph.input} == {
        "feats": onnx.TensorProto.DOUBLE, "pos": onnx.TensorProto.DOUBLE}
    # the members side by side: one matrix product per layer, not one per member
    n_matmul = sum(n.op_type == "MatMul" for n in proto.graph.node)
    assert n_matmul < 20


def test_engine_path_never_imports_torch_nor_onnx():
    code = (
        "import sys, numpy as np\n"
        "from neurofb.focus.targets import make_estimator\n"
        "from neurofb.dsp import montage\n"
        "b = make_estimator('model', model_baseline_s=60).bind(montage.preset('cyton'), 250.0)\n"
        "f = b.predict(np.random.default_rng(0).normal(0, 10, (2, 8, 500))).focus\n"
        "assert f.shape == (2,)\n"
        "print('torch' in sys.modules, 'onnx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False False"


@pytest.mark.parametrize("mode", ["cold", "baseline"])
def test_the_wire_reader_sees_what_onnx_sees(mode):
    """neurofb.focus.onnx_wire (the engine's reader, no onnx import) against the onnx package:
    the same metadata and names, and a bound graph onnx accepts, with ``pos`` a constant."""
    import onnx
    from onnx import numpy_helper

    from neurofb.focus.onnx_wire import read_graph_info, with_constant_input

    data = load_estimator().networks[mode].data
    proto = onnx.load_from_string(data)
    info = read_graph_info(data)
    assert info.metadata == {p.key: p.value for p in proto.metadata_props}
    assert info.metadata["neurofb.mode"] == mode
    assert info.inputs == tuple(i.name for i in proto.graph.input)
    assert info.outputs == tuple(o.name for o in proto.graph.output)
    assert info.initializers == tuple(i.name for i in proto.graph.initializer)
    pos = montage.positions(montage.preset("cyton"))
    bound = onnx.load_from_string(with_constant_input(data, "pos", pos))
    onnx.checker.check_model(bound)
    assert [i.name for i in bound.graph.input] == ["feats"]
    assert np.array_equal(numpy_helper.to_array(bound.graph.initializer[-1]), pos)
    assert bound.graph.initializer[-1].name == "pos"
    assert len(bound.graph.node) == len(proto.graph.node)
    assert bound.metadata_props == proto.metadata_props


def test_the_wire_reader_refuses_damaged_bytes():
    from neurofb.focus.onnx_wire import read_graph_info, with_constant_input

    data = load_estimator().networks["cold"].data
    for bad in (data[: len(data) // 2], data[:-1], b"\xff" * 64, b"", data + b"\x07"):
        with pytest.raises(ValueError):
            read_graph_info(bad)
    with pytest.raises(ValueError, match="no input 'nope'"):
        with_constant_input(data, "nope", np.zeros((4, 3)))


def test_sigmoid_is_float64_and_stable():
    import math

    z = np.array([-800.0, -30.0, 0.0, 1e-12, 30.0, 800.0])
    s = sigmoid(z)
    assert s.dtype == np.float64 and np.all(np.isfinite(s))
    np.testing.assert_allclose(s, [1 / (1 + math.exp(-v)) if v > -700 else 0.0 for v in z],
                               rtol=1e-15, atol=0)


def test_onnx_matches_torch_on_real_eegmat_windows(eegmat_dir, tmp_path):
    """The shipped graphs against the shipped weights in torch (float64), window by window,
    through the engine's estimator (the graph specialised to the electrodes)."""
    from sklearn.metrics import roc_auc_score

    from neurofb.training.eegmat import load_eegmat

    fs = load_eegmat(eegmat_dir, [6, 15], cache_dir=tmp_path)  # every window of two people
    models, _ = load_model(SHIPPED)
    pos = torch.as_tensor(fs.positions())
    bound = load_estimator(SHIPPED).bind(fs.ch_names, 500.0)
    for mode in ("cold", "baseline"):
        with torch.inference_mode():
            logit_t, att_t = models[mode].double()(torch.as_tensor(fs.X), pos)
        got = [bound.graph(mode).run(fs.X[i:i + 1]) for i in range(len(fs))]
        logit_o = np.array([g[0] for g in got])
        att_o = np.stack([g[1] for g in got])
        assert np.max(np.abs(sigmoid(logit_o) - torch.sigmoid(logit_t).numpy())) < 1e-6
        assert np.max(np.abs(att_o - att_t.numpy())) < 1e-6
        auc_t = roc_auc_score(fs.y, logit_t.numpy())
        assert roc_auc_score(fs.y, logit_o) == pytest.approx(auc_t, abs=1e-9)
    assert 0.5 < roc_auc_score(fs.y, logit_o) < 1.0  # a real, imperfect score: can fail


def test_the_specialised_graph_equals_the_whole_graph(tiny):
    est = load_estimator(tiny)
    names = list(montage.preset("muse"))
    bound = est.bind(names, 256.0)
    x = np.random.default_rng(3).normal(1.0, 0.5, (1, 4, 50))
    pos = montage.positions(names)
    whole = est.networks["cold"].session().run(None, {"feats": x, "pos": pos})
    logit, att = bound.graph("cold").run(x)
    assert abs(logit - whole[0][0]) < 1e-12 and np.max(np.abs(att - whole[1][0])) < 1e-12


def test_the_baseline_graph_is_bound_only_when_a_baseline_is_asked_for():
    """A cold session never opens the baseline graph; asking for a baseline binds it at once
    (not at the first baseline window), and it scores like the whole graph."""
    est = load_estimator()
    names = list(montage.preset("cyton"))
    cold = est.bind(names, 250.0)
    assert set(cold._graphs) == {"cold"} and cold.modes == ("cold", "baseline")
    cold.request_baseline(60.0, start_s=0.0)
    assert set(cold._graphs) == {"cold", "baseline"}
    assert set(load_estimator(baseline_s=60.0).bind(names, 250.0)._graphs) == {"cold", "baseline"}
    x = np.random.default_rng(4).normal(0.0, 1.0, (1, len(names), 50))
    whole = est.networks["baseline"].session().run(
        None, {"feats": x, "pos": montage.positions(names)})
    logit, _ = cold.graph("baseline").run(x)
    assert abs(logit - whole[0][0]) < 1e-12
    with pytest.raises(ModelError, match="no nope-mode graph"):
        cold.graph("nope")


def test_int8_graph_runs_and_stays_close(tiny, tmp_path):
    import onnx
    import onnxruntime as ort

    info = export_int8(tiny, tmp_path / "int8.onnx")
    assert info["sha256"] == sha256_file(tmp_path / "int8.onnx") and info["mode"] == "cold"
    ops = {n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node}
    assert ops & {"DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul"}
    sess = ort.InferenceSession(str(tmp_path / "int8.onnx"), providers=["CPUExecutionProvider"])
    names = list(montage.preset("cyton"))
    x = np.random.default_rng(4).normal(1.0, 0.5, (1, 8, 50))
    got = sess.run(None, {"feats": x.astype(np.float32),
                          "pos": montage.positions(names).astype(np.float32)})[0][0]
    want = load_estimator(tiny).bind(names, 250.0).graph("cold").run(x)[0]
    assert abs(got - want) < 0.5 and got != want


def test_brainflow_mlmodel_runs_the_exported_graph(tmp_path):
    """BrainFlow's own ONNX classifier loads the one-input graph (the Welch front end inside)
    and gives the engine's cold-mode focus."""
    from brainflow.ml_model import (
        BrainFlowClassifiers,
        BrainFlowMetrics,
        BrainFlowModelParams,
        MLModel,
    )

    names = ["Fz", "C3", "Cz", "C4", "Pz", "O1", "O2", "Fp1"]
    info = export_brainflow(SHIPPED, names, tmp_path / "focus-bf.onnx", sfreq=250)
    assert info["shape"] == [1, 8, 500] and info["channels"] == names and info["opset"] == 16
    rng = np.random.default_rng(7)
    t = np.arange(500) / 250.0
    windows = rng.normal(0, 15, (3, 8, 500)) + 20 * np.sin(2 * np.pi * 10 * t)
    engine = load_estimator(SHIPPED).bind(names, 250.0)
    want = engine.predict(windows, band_powers(windows, 250.0)).focus
    params = BrainFlowModelParams(BrainFlowMetrics.USER_DEFINED.value,
                                  BrainFlowClassifiers.ONNX_CLASSIFIER.value)
    params.file = str(tmp_path / "focus-bf.onnx")
    params.output_name = "focus"
    model = MLModel(params)
    model.prepare()
    try:
        got = [model.predict(np.ascontiguousarray(w).ravel())[0] for w in windows]
    finally:
        model.release()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert len(set(np.round(got, 6))) == 3  # three different windows, three different values
    with pytest.raises(ModelError, match="integer sampling rate"):
        export_brainflow(SHIPPED, names, tmp_path / "x.onnx", sfreq=64)


def test_features_of_the_engine_feed_the_graph_unchanged(tiny):
    """The estimator's features are model_features of the pipeline's Welch spectrum."""
    names = list(montage.preset("cyton"))
    w = np.random.default_rng(5).normal(0, 10, (2, 8, 500))
    feats = band_powers(w, 250.0)
    bound = load_estimator(tiny).bind(names, 250.0)
    out = bound.predict(w, feats)
    x = model_features(feats.psd, feats.freqs)
    want = [bound.graph("cold").run(x[i:i + 1])[0] for i in range(2)]
    np.testing.assert_array_equal(out.focus, sigmoid(np.array(want)))
