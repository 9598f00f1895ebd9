"""Model folders (safetensors + graphs + model.json) and the engine's estimator built on them."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from focus_helpers import random_lra, tiny_model_dir

from neurofb.dsp import montage
from neurofb.dsp.features import band_powers
from neurofb.errors import ChannelError, ModelError
from neurofb.focus.base import BoundEstimator, Estimator
from neurofb.focus.card import read_card, sha256_file
from neurofb.focus.features import model_features
from neurofb.focus.io import load_model, save_model
from neurofb.focus.neural import load_estimator


@pytest.fixture
def model_dir(tmp_path):
    return tiny_model_dir(tmp_path)


def test_round_trip_gives_the_same_networks(model_dir):
    models, meta = load_model(model_dir)
    again, _ = load_model(model_dir)
    assert list(models) == ["cold", "baseline"] == meta["architecture"]["modes"]
    x = torch.randn(3, 19, 50) + 1
    pos = torch.as_tensor(montage.positions(montage.preset("full")), dtype=torch.float32)
    with torch.no_grad():
        for mode in models:
            torch.testing.assert_close(models[mode](x, pos)[0], again[mode](x, pos)[0])
        assert not torch.allclose(models["cold"](x, pos)[0], models["baseline"](x, pos)[0])
    assert meta["weights"]["sha256"] == sha256_file(model_dir / "weights.safetensors")
    assert meta["architecture"]["name"] == "FocusLRA" and meta["architecture"]["d_model"] == 8
    assert {"torch", "onnxruntime", "neurofb"} <= set(meta["versions"])
    card = read_card(model_dir)
    assert card.modes == ("cold", "baseline") and card.architecture == "FocusLRA"


def test_weights_file_is_safetensors_not_pickle(model_dir):
    raw = (model_dir / "weights.safetensors").read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])
    assert "cold.feat_mean" in header and "baseline.feat_mean" in header
    assert header["__metadata__"]["format"] == "neurofb-focus-model"
    assert not raw.startswith(b"\x80")  # a pickle would start with the PROTO opcode


def test_the_same_model_saved_again_is_the_same_bytes(model_dir, tmp_path):
    """The safetensors writer orders its metadata by a hash map that changes per write; the
    saved file sorts it, so eight saves of one model give one SHA-256 (it was two, at random),
    and the weights, graphs and model.json that record it do not change either."""
    models, _ = load_model(model_dir)
    hashes = {sha256_file(tiny_model_dir(tmp_path, f"again-{i}") / "weights.safetensors")
              for i in range(8)}  # the fixture's networks (seed 0), saved eight times
    assert hashes == {sha256_file(model_dir / "weights.safetensors")}
    raw = (tmp_path / "again-0" / "weights.safetensors").read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert list(header["__metadata__"]) == sorted(header["__metadata__"])
    again, _ = load_model(tmp_path / "again-0")  # and it still loads
    for mode in models:
        for key, value in models[mode].state_dict().items():
            torch.testing.assert_close(again[mode].state_dict()[key], value, rtol=0, atol=0)


def test_tampered_or_edited_folders_are_refused(model_dir):
    path = model_dir / "weights.safetensors"
    good = path.read_bytes()
    data = bytearray(good)
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"does not match model\.json: file changed after export"):
        load_model(model_dir)
    path.write_bytes(good)
    meta = json.loads((model_dir / "model.json").read_text())
    (model_dir / "model.json").write_text(json.dumps(
        {**meta, "architecture": {**meta["architecture"], "n_layers": 2}}))
    with pytest.raises(ModelError, match="architecture"):
        load_model(model_dir)
    (model_dir / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(model_dir)


def test_a_model_of_an_older_neurofb_says_to_retrain(model_dir):
    meta = json.loads((model_dir / "model.json").read_text())
    (model_dir / "model.json").write_text(json.dumps({**meta, "format_version": 1}))
    with pytest.raises(ModelError, match=r"older neurofb.*retrain"):
        load_estimator(model_dir)


def test_nan_weights_are_refused_at_load(model_dir):
    from safetensors.torch import load_file, save_file

    path = model_dir / "weights.safetensors"
    state = load_file(str(path))
    state["cold.embed1.weight"][0, 0, 0] = float("nan")
    save_file(state, str(path), metadata={"format": "neurofb-focus-model"})
    meta = json.loads((model_dir / "model.json").read_text())
    meta["weights"]["sha256"] = sha256_file(path)
    (model_dir / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="NaN or infinite"):
        load_model(model_dir)


def test_missing_files_are_refused(model_dir, tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (model_dir / "weights.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model(model_dir)
    (model_dir / "model.json").unlink()
    with pytest.raises(ModelError, match=r"model\.json is missing"):
        load_model(model_dir)


def test_save_refuses_to_overwrite_and_needs_a_cold_network(model_dir, tmp_path):
    with pytest.raises(ModelError, match="already holds a model"):
        save_model({"cold": random_lra()}, model_dir, {"input": {}})
    with pytest.raises(ModelError, match="cold at least"):
        save_model({"baseline": random_lra()}, tmp_path / "x", {"input": {}})
    # --force over a model: what the replaced model had and this one lacks goes with it (a
    # personalised model's head, its baseline graph), so the folder holds one model
    (model_dir / "personal.safetensors").write_bytes(b"a head of the replaced model")
    meta = {"input": {"window_s": 2.0, "min_channels": 3}}
    save_model({"cold": random_lra(3)}, model_dir, meta, overwrite=True)
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "model.json", "model.onnx", "weights.safetensors"]
    load_estimator(model_dir)


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
    out = bound.predict(windows, band_powers(windows, sfreq))
    assert out.focus.shape == (len(windows),) and out.mode == ("cold",) * len(windows)
    assert np.all((out.focus >= 0) & (out.focus <= 1))
    np.testing.assert_allclose(out.explanation.sum(1), 1.0, rtol=1e-9)
    # the spectrum computed here when the pipeline gives none: the same numbers
    assert np.array_equal(bound.predict(windows).focus, out.focus)


@pytest.mark.parametrize(("names", "sfreq"), [
    (["EEG " + n for n in ("Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4", "T5",
                           "T6", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz")] + ["EEG A2-A1",
                                                                               "ECG ECG"], 500.0),
    (list(montage.preset("cyton")), 250.0),
    (list(montage.preset("muse")), 256.0),
])
def test_estimator_is_the_network_on_the_known_electrodes(model_dir, names, sfreq):
    bound = load_estimator(model_dir).bind(names, sfreq)
    rng = np.random.default_rng(0)
    windows = rng.normal(0, 10, (3, len(names), int(2 * sfreq)))
    out = bound.predict(windows, band_powers(windows, sfreq))
    unknown = [i for i, n in enumerate(names) if montage.normalise_name(n) is None]
    assert np.all(out.explanation[:, unknown] == 0)
    np.testing.assert_allclose(out.explanation.sum(1), 1.0, rtol=1e-9)
    models, _ = load_model(model_dir)
    known = [i for i in range(len(names)) if i not in unknown]
    feats = band_powers(windows[:, known], sfreq)
    x = torch.as_tensor(model_features(feats.psd, feats.freqs))
    pos = torch.as_tensor(montage.positions([names[i] for i in known]))
    with torch.no_grad():
        expected = torch.sigmoid(models["cold"].double()(x, pos)[0]).numpy()
    np.testing.assert_allclose(out.focus, expected, rtol=0, atol=1e-9)


def test_a_longer_window_is_read_over_its_last_two_seconds(model_dir):
    names = list(montage.preset("cyton"))
    rng = np.random.default_rng(1)
    windows = rng.normal(0, 10, (2, 8, 1000))  # 4 s at 250 Hz
    bound = load_estimator(model_dir).bind(names, 250.0)
    long = bound.predict(windows, band_powers(windows, 250.0))
    bound.reset()
    last = bound.predict(windows[..., -500:], band_powers(windows[..., -500:], 250.0))
    assert np.array_equal(long.focus, last.focus)


def test_bind_and_predict_errors(model_dir):
    est = load_estimator(model_dir)
    with pytest.raises(ChannelError, match="at least 3"):
        est.bind(["Fp1", "Fp2", "AUX", "ECG"], 250.0)
    with pytest.raises(ModelError, match="sampling rate"):
        est.bind(["Fp1", "Fp2", "Cz"], 64.0)
    bound = est.bind(["Fp1", "Fp2", "Cz"], 250.0)
    with pytest.raises(ValueError, match="windows must be"):
        bound.predict(np.zeros((2, 4, 500)))
    bad = np.zeros((1, 3, 500))
    bad[0, 0, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        bound.predict(bad)
    assert bound.predict(np.zeros((0, 3, 500))).focus.shape == (0,)


def test_baseline_mode_in_the_estimator(model_dir):
    """Cold while resting, then the baseline graph on re-centred features; like the batch twin."""
    from neurofb.focus.baseline import recentre_sessions

    names = list(montage.preset("cyton"))
    rng = np.random.default_rng(2)
    windows = rng.normal(0, 10, (40, 8, 500))
    t_end = 2.0 + np.arange(40)
    est = load_estimator(model_dir, baseline_s=25.0)
    assert est.modes == ("cold", "baseline")
    bound = est.bind(names, 250.0)
    out = bound.predict(windows, band_powers(windows, 250.0), t_end=t_end)
    n_rest = int((t_end <= 25).sum())
    assert n_rest >= 20 and out.mode == ("rest",) * n_rest + ("baseline",) * (40 - n_rest)
    feats = band_powers(windows, 250.0)
    x = model_features(feats.psd, feats.freqs)
    models, _ = load_model(model_dir)
    pos = torch.as_tensor(montage.positions(names))
    rel = recentre_sessions(x, np.zeros(40), t_end <= 25)
    with torch.no_grad():
        cold = torch.sigmoid(models["cold"].double()(torch.as_tensor(x), pos)[0]).numpy()
        base = torch.sigmoid(models["baseline"].double()(torch.as_tensor(rel), pos)[0]).numpy()
    np.testing.assert_allclose(out.focus[:n_rest], cold[:n_rest], rtol=0, atol=1e-9)
    np.testing.assert_allclose(out.focus[n_rest:], base[n_rest:], rtol=0, atol=1e-9)
    bound.request_baseline(None, start_s=50.0)  # back to cold
    assert bound.predict(windows[:1], t_end=np.array([52.0])).mode == ("cold",)
    cold_only = tiny_model_dir(model_dir.parent, "cold-only")
    meta = json.loads((cold_only / "model.json").read_text())
    meta["architecture"]["modes"] = ["cold"]
    (cold_only / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"architecture|baseline"):
        load_estimator(cold_only, baseline_s=60.0)


@pytest.mark.parametrize(("section", "key", "value", "words"), [
    ("baseline", "min_windows", 0, "baseline.min_windows must be a whole number"),
    ("baseline", "std_floor", -1, "baseline.std_floor must be a positive number"),
    ("baseline", "baseline_s", -60, "baseline.baseline_s must be seconds"),
    ("baseline", "baseline_s", "NaN", "baseline.baseline_s must be seconds"),
    ("input", "unit", "V", 'input.unit must be "uV"'),
    ("input", "channels", [], "input.channels must be a list of electrode names"),
])  # fmt: skip
def test_contract_numbers_out_of_range_are_refused_naming_the_field(model_dir, section, key,
                                                                    value, words):
    meta = json.loads((model_dir / "model.json").read_text())
    meta[section] = {**meta.get(section, {}), key: float(value) if value == "NaN" else value}
    (model_dir / "model.json").write_text(json.dumps(meta))
    for load in (load_estimator, load_model):
        with pytest.raises(ModelError, match=re.escape(words)) as err:
            load(model_dir)
        assert "model.json" in str(err.value)


@pytest.mark.parametrize(("key", "value"), [("n_members", 4), ("d_model", 16),
                                            ("n_features", 49)])
def test_an_edited_architecture_is_refused_by_the_engine_too(model_dir, key, value):
    """The engine runs the graphs, not these numbers, but a model.json that no longer says
    what the weights are is refused by every loader (it read them without a word)."""
    meta = json.loads((model_dir / "model.json").read_text())
    meta["architecture"] = {**meta["architecture"], key: value}
    (model_dir / "model.json").write_text(json.dumps(meta))
    stored = json.loads((model_dir / "model.json").read_text())  # as edited
    for load in (load_estimator, load_model):
        with pytest.raises(ModelError, match=r"architecture does not match the one stored "
                                             rf"in weights\.safetensors: {key} {value} \(the "
                                             r"weights: "):
            load(model_dir)
    assert stored["architecture"][key] == value


@pytest.mark.parametrize(("section", "key", "value"), [
    ("input", "window_s", 1.0), ("baseline", "baseline_s", 30.0), ("input", "min_channels", 4),
])  # fmt: skip
def test_an_edited_window_or_baseline_is_refused_not_run(model_dir, section, key, value):
    """model.json's window 2 → 1 s ran the model on windows it was not trained on, silently
    (mean focus 0.315 instead of 0.255): the numbers the engine uses are recorded with it."""
    from neurofb.focus.card import CONTRACT_FIELD

    meta = json.loads((model_dir / "model.json").read_text())
    assert CONTRACT_FIELD in meta  # written with every model folder
    load_estimator(model_dir)
    meta[section] = {**meta.get(section, {}), key: value}
    (model_dir / "model.json").write_text(json.dumps(meta))
    for load in (load_estimator, load_model):
        with pytest.raises(ModelError, match=r"input or baseline numbers .* model\.json was "
                                             r"edited after export") as err:
            load(model_dir)
        # the advice names no option the commands lack (there is no --window for a model)
        assert "--window" not in str(err.value) and "restore the original model.json" in str(
            err.value)
    del meta[CONTRACT_FIELD]  # a folder of an earlier release records none: it loads
    (model_dir / "model.json").write_text(json.dumps(meta))
    load_estimator(model_dir)


def test_the_shipped_model_records_its_contract():
    from neurofb.focus.card import CONTRACT_FIELD, contract_sha256
    from neurofb.paths import default_model_dir

    meta = json.loads((default_model_dir() / "model.json").read_text())
    assert meta[CONTRACT_FIELD] == contract_sha256(meta)


def test_a_model_folder_is_put_in_place_whole_or_not_at_all(model_dir, tmp_path):
    """Written in place, a killed calibrate left weights without model.json (that --force then
    refused), a killed --force destroyed the old model, and two writers to one new folder both
    said "wrote". Models are now written into a stage and renamed into place."""
    import shutil

    from neurofb.focus.placement import model_stage

    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    (model_dir / "MODEL_CARD.md").write_text("the user's card")
    with pytest.raises(KeyboardInterrupt), model_stage(model_dir, overwrite=True) as stage:
        (stage / "weights.safetensors").write_bytes(b"half a model")
        raise KeyboardInterrupt  # killed mid-write: the old model stays whole
    assert {p.name: p.read_bytes() for p in model_dir.iterdir() if p.name in before} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    # another writer's model lands at a new folder while this one is written: refused, kept
    new = tmp_path / "new"
    with pytest.raises(ModelError, match="nothing of this one was kept"), \
            model_stage(new) as stage:
        (stage / "model.json").write_text("{}")
        shutil.copytree(model_dir, new)
    assert (new / "weights.safetensors").read_bytes() == before["weights.safetensors"]
    # --force replaces the model, and keeps the user's own files beside it
    again = tiny_model_dir(tmp_path / "other", seed=5)
    with model_stage(model_dir, overwrite=True) as stage:
        for p in again.iterdir():
            shutil.copy2(p, stage / p.name)
    assert (model_dir / "weights.safetensors").read_bytes() == (
        again / "weights.safetensors").read_bytes()
    assert (model_dir / "MODEL_CARD.md").read_text() == "the user's card"
    load_estimator(model_dir)


def test_a_swap_killed_halfway_is_undone_by_the_next_write(model_dir, tmp_path):
    """Killed between moving the old model aside and putting the new one in place: the next
    write to that folder puts the old model back first (and removes a dead writer's stage)."""
    from neurofb.focus.placement import model_stage

    weights = (model_dir / "weights.safetensors").read_bytes()
    aside = model_dir.parent / f".{model_dir.name}.replaced-999999999"  # a process now gone
    model_dir.rename(aside)
    stage = model_dir.parent / f".{model_dir.name}.partial-999999999"
    stage.mkdir()
    with pytest.raises(ModelError, match="holds a model"), model_stage(model_dir):
        pass  # without --force: the restored model is not replaced
    assert (model_dir / "weights.safetensors").read_bytes() == weights
    assert not aside.exists() and not stage.exists()
