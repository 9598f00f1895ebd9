"""Model folders (safetensors + model.json) and the live estimator built on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurofb.dsp import montage
from neurofb.errors import ChannelError, ModelError
from neurofb.focus.base import BoundEstimator, Estimator
from neurofb.focus.card import read_meta, sha256_file
from neurofb.focus.io import load_model, save_model
from neurofb.focus.model import FocusNet
from neurofb.focus.neural import load_estimator, resample_windows


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(1)
    m = FocusNet(d_model=8, n_heads=2, n_layers=1)
    with torch.no_grad():
        m.feat_mean.normal_()
    meta = {"name": "tiny", "input": {"sfreq": 128.0, "window_s": 2.0, "min_channels": 3,
                                       "channels": list(montage.preset("full"))}}
    return save_model(m, tmp_path / "tiny", meta)


def test_round_trip_gives_the_same_model(model_dir):
    model, meta = load_model(model_dir)
    again, _ = load_model(model_dir)
    x = torch.randn(3, 19, 256) * 10
    pos = torch.as_tensor(montage.positions(montage.preset("full")), dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(model(x, pos)[0], again(x, pos)[0])
    assert meta["weights"]["sha256"] == sha256_file(model_dir / "weights.safetensors")
    assert meta["architecture"]["name"] == "FocusNet" and meta["architecture"]["d_model"] == 8
    assert set(meta["weights"]["tensors"]) == set(model.state_dict())
    assert {"torch", "mne", "neurofb"} <= set(meta["versions"])
    assert meta["name"] == "tiny" and meta["created"]


def test_weights_file_is_safetensors_not_pickle(model_dir):
    raw = (model_dir / "weights.safetensors").read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])
    assert "feat_mean" in header and header["__metadata__"]["format"] == "neurofb-focus-model"
    assert not raw.startswith(b"\x80")  # a pickle would start with the PROTO opcode


def test_tampered_weights_are_refused(model_dir):
    path = model_dir / "weights.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"does not match model\.json: file changed after export"):
        load_model(model_dir)


def test_edited_architecture_in_json_is_refused(model_dir):
    meta = json.loads((model_dir / "model.json").read_text())
    meta["architecture"]["n_layers"] = 2
    (model_dir / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="architecture"):
        load_model(model_dir)


def test_invalid_json_is_refused(model_dir):
    (model_dir / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(model_dir)


def test_wrong_format_or_missing_sections(model_dir):
    meta = json.loads((model_dir / "model.json").read_text())
    (model_dir / "model.json").write_text(json.dumps({**meta, "format": "other"}))
    with pytest.raises(ModelError, match="not a neurofb focus model"):
        read_meta(model_dir)
    del meta["input"]
    (model_dir / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="'input'"):
        read_meta(model_dir)


def test_missing_files_are_refused(model_dir, tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (model_dir / "weights.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model(model_dir)
    (model_dir / "model.json").unlink()
    with pytest.raises(ModelError, match=r"model\.json is missing"):
        load_model(model_dir)


def test_weights_of_another_shape_are_refused(model_dir, tmp_path):
    from safetensors.torch import save_file

    other = FocusNet(d_model=16, n_heads=2, n_layers=1)
    path = model_dir / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(path))
    meta = json.loads((model_dir / "model.json").read_text())
    meta["weights"]["sha256"] = sha256_file(path)  # a consistent hash, the wrong tensors
    (model_dir / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="does not fit the architecture"):
        load_model(model_dir)


def test_export_refuses_to_overwrite(model_dir):
    with pytest.raises(ModelError, match="already holds a model"):
        save_model(FocusNet(d_model=8, n_heads=2, n_layers=1), model_dir, {"input": {}})


def _synthetic_board_windows(seconds: float = 4.0):
    """Real data from BrainFlow's synthetic board, filtered as the engine does."""
    import time

    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

    from neurofb.dsp.filters import StreamFilter, design_filter

    board_id = BoardIds.SYNTHETIC_BOARD.value
    board = BoardShim(board_id, BrainFlowInputParams())
    board.prepare_session()
    try:
        board.start_stream()
        time.sleep(seconds)
        data = board.get_board_data()
        board.stop_stream()
    finally:
        board.release_session()
    sfreq = BoardShim.get_sampling_rate(board_id)
    eeg = data[BoardShim.get_eeg_channels(board_id)]
    filtered = StreamFilter(design_filter(sfreq), eeg.shape[0]).process(eeg)
    n = 2 * sfreq
    windows = np.stack([filtered[:, i:i + n] for i in range(0, filtered.shape[1] - n + 1, 125)])
    return windows, BoardShim.get_eeg_names(board_id), float(sfreq)


def test_estimator_on_brainflow_synthetic_board(model_dir):
    windows, names, sfreq = _synthetic_board_windows()
    est = load_estimator(model_dir)
    assert isinstance(est, Estimator)
    bound = est.bind(names, sfreq)
    assert isinstance(bound, BoundEstimator)
    out = bound.predict(windows, None)
    assert out.focus.shape == (len(windows),)
    assert np.all((out.focus >= 0) & (out.focus <= 1))
    assert out.explanation.shape == (len(windows), len(names))
    np.testing.assert_allclose(out.explanation.sum(1), 1.0, rtol=1e-5)
    # batched and one-by-one give the same estimates (live and fast replay agree)
    single = np.array([bound.predict(w[None], None).focus[0] for w in windows])
    np.testing.assert_allclose(single, out.focus, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("names", "sfreq"), [
    (["EEG " + n for n in ("Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4", "T5",
                           "T6", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz")] + ["EEG A2-A1",
                                                                               "ECG ECG"], 500.0),
    (list(montage.preset("cyton")), 250.0),
    (list(montage.preset("muse")), 256.0),
])
def test_estimator_maps_channels_by_name(model_dir, names, sfreq):
    bound = load_estimator(model_dir).bind(names, sfreq)
    rng = np.random.default_rng(0)
    windows = rng.normal(0, 10, (3, len(names), int(2 * sfreq)))
    out = bound.predict(windows, None)
    unknown = [i for i, n in enumerate(names) if montage.normalise_name(n) is None]
    assert np.all(out.explanation[:, unknown] == 0)
    np.testing.assert_allclose(out.explanation.sum(1), 1.0, rtol=1e-5)
    # the estimator is the model on windows resampled to 128 Hz, unknown channels dropped
    model, _ = load_model(model_dir)
    known = [i for i in range(len(names)) if i not in unknown]
    x = torch.as_tensor(resample_windows(windows[:, known], sfreq, 128.0))
    pos = torch.as_tensor(montage.positions([names[i] for i in known]), dtype=torch.float32)
    with torch.no_grad():
        expected = torch.sigmoid(model(x, pos)[0]).numpy()
    np.testing.assert_allclose(out.focus, expected, rtol=1e-5, atol=1e-6)


def test_bind_errors(model_dir):
    est = load_estimator(model_dir)
    with pytest.raises(ChannelError, match="at least 3"):
        est.bind(["Fp1", "Fp2", "AUX", "ECG"], 250.0)
    with pytest.raises(ModelError, match="sampling rate"):
        est.bind(["Fp1", "Fp2", "Cz"], 64.0)
    bound = est.bind(["Fp1", "Fp2", "Cz"], 250.0)
    with pytest.raises(ValueError, match="windows must be"):
        bound.predict(np.zeros((2, 4, 500)), None)
    bad = np.zeros((1, 3, 500))
    bad[0, 0, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        bound.predict(bad, None)
    empty = bound.predict(np.zeros((0, 3, 500)), None)
    assert empty.focus.shape == (0,)
