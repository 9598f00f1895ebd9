"""Model folders and training are safe with bad input (docs/safety.md): export-model, calibrate
and train never replace what is not theirs, never write into the model they read, read their
inputs before the work, and never write a model learned from nothing. The real CLI on real
files, real ONNX graphs, real training."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from focus_helpers import small_eegmat, tiny_model_dir, write_calibration_recording
from safety_helpers import DEMO, cli, digest, one_line_error, run, small_fs

from neurofb.errors import ModelError
from neurofb.focus.card import read_meta
from neurofb.focus.neural import load_estimator
from neurofb.focus.personal import load_heads
from neurofb.focus.runtime import load_network
from neurofb.paths import default_model_dir
from neurofb.recording import RecordingWriter, open_recording
from neurofb.training.personalise import personalise
from neurofb.types import Chunk, SourceInfo

TINY_TRAINING = ("--epochs", "1", "--d-model", "8", "--heads", "2")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_model_dir(tmp_path_factory.mktemp("model"), "tiny")


@pytest.fixture(scope="module")
def recording(eegmat_dir, tmp_path_factory) -> Path:
    """A real calibration recording of eegmat subject 1: 40 s rest, then 40 s arithmetic."""
    return write_calibration_recording(tmp_path_factory.mktemp("rec") / "cal", eegmat_dir, 1,
                                       rest_s=40, task_s=40)


def rewrite(source: Path, path: Path, change, *, board: str = "eegmat") -> Path:
    """A real recording holding ``change(samples)`` of ``source``, with its block markers."""
    rec = open_recording(source)
    data = change(np.array(rec.data, dtype=np.float64))
    info = SourceInfo(ch_names=rec.ch_names, sfreq=rec.sfreq, board=board)
    ts = np.arange(data.shape[1]) / rec.sfreq
    with RecordingWriter(path, info) as w:
        for i in range(0, data.shape[1], 500):
            w.write_chunk(Chunk(data=data[:, i:i + 500], timestamps=ts[i:i + 500],
                                ch_names=info.ch_names, sfreq=rec.sfreq, first_sample=i))
        for marker in rec.markers:
            w.write_marker(marker)
    return path


def argparse_error(capsys, *argv: object) -> str:
    """The one line of an argparse error (exit code 2)."""
    with pytest.raises(SystemExit) as end:
        cli(capsys, *argv)
    assert end.value.code == 2
    return one_line_error(capsys.readouterr().err, str(argv[0]))


# -- export-model --------------------------------------------------------------------------------


def test_export_model_replaces_a_file_only_with_force(model, tmp_path, capsys):
    out = tmp_path / "q.onnx"
    assert cli(capsys, "export-model", model, "--int8", "--out", out)[0] == 0
    first = out.read_bytes()
    out.write_bytes(b"someone's graph")
    code, _, err = cli(capsys, "export-model", model, "--int8", "--out", out)
    line = one_line_error(err, "export-model")
    assert code == 2 and f"--out {out} exists" in line and "--force" in line
    assert out.read_bytes() == b"someone's graph"
    bf = tmp_path / "bf.onnx"
    bf.write_bytes(b"mine")
    code, _, err = cli(capsys, "export-model", model, "--brainflow", "Fz,Cz,Pz", "--out", bf)
    assert code == 2 and "exists" in one_line_error(err, "export-model")
    assert bf.read_bytes() == b"mine"
    assert cli(capsys, "export-model", model, "--int8", "--out", out, "--force")[0] == 0
    assert out.read_bytes() == first


@pytest.mark.parametrize("argv", [
    ("--int8", "--out", "model.onnx"),
    ("--int8", "--out", "extra.onnx"),
    ("--brainflow", "Fz,Cz,Pz", "--out", "weights.safetensors"),
])  # fmt: skip
def test_export_model_never_writes_into_the_model_folder(argv, model, tmp_path, capsys):
    folder = tmp_path / "m"
    shutil.copytree(model, folder)
    before = digest(folder)
    *flags, name = argv
    code, _, err = cli(capsys, "export-model", folder, *flags, folder / name, "--force")
    line = one_line_error(err, "export-model")
    assert code == 2 and f"--out {folder / name} is inside {folder}" in line
    assert digest(folder) == before
    assert load_estimator(folder).modes == ("cold", "baseline")  # still a working model


def test_a_failed_int8_export_leaves_nothing_and_names_out(tmp_path, capsys):
    temp_before = set(Path(tempfile.gettempdir()).glob("neurofb-int8-*"))
    with small_fs(tmp_path / "small", "100k") as disk:
        old = disk / "q.onnx"
        old.write_bytes(b"the graph --force was to replace")
        # the shipped model's int8 graph (about 200 kB) does not fit on 100 kB
        code, _, err = cli(capsys, "export-model", default_model_dir(), "--int8", "--out", old,
                           "--force")
        line = one_line_error(err, "export-model")
        assert code == 2 and f"--out {old}" in line and "No space left" in line
        assert ".tmp" not in line and "partial" not in line
        assert [p.name for p in disk.iterdir()] == ["q.onnx"]
        assert old.read_bytes() == b"the graph --force was to replace"
    assert set(Path(tempfile.gettempdir()).glob("neurofb-int8-*")) == temp_before


@pytest.mark.parametrize(("argv", "words"), [
    (("--sfreq", "250"), "without --brainflow it has no use"),
    (("--force",), "--force is for --brainflow and --int8"),
    (("--brainflow", "Fz,Fz,Fz", "--out", "{out}"), "given more than once: Fz"),
    (("--brainflow", "Fz,Cz,fz,Pz", "--out", "{out}"), "given more than once: Fz, fz"),
    (("--brainflow", "Fz,Cz", "--out", "{out}"), "at least 3 10-20/10-10 electrode names, got 2"),
    (("--brainflow", "Fz,Cz,Xq", "--out", "{out}"), "not 10-20/10-10 electrode names: Xq"),
])  # fmt: skip
def test_export_model_flags_that_do_nothing_or_repeat_are_errors(argv, words, model, tmp_path,
                                                                  capsys):
    out = tmp_path / "bf.onnx"
    code, _, err = cli(capsys, "export-model", model,
                       *(a.format(out=out) for a in argv))
    assert code == 2 and words in one_line_error(err, "export-model")
    assert not out.exists()


def test_an_absurd_brainflow_rate_is_one_line(model, tmp_path, capsys):
    out = tmp_path / "bf.onnx"
    line = argparse_error(capsys, "export-model", model, "--brainflow", "Fz,Cz,Pz", "--sfreq",
                          "100000000", "--out", out)
    assert "--sfreq" in line and "from 90 to 100000 Hz" in line
    assert not out.exists()


# -- calibrate/train --out -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["model.onnx", "weights.safetensors", "personal.safetensors"])
def test_calibrate_and_train_never_write_among_other_files(name, model, recording, eegmat_dir,
                                                          tmp_path, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / name).write_bytes(b"not neurofb's")
    before = digest(folder)
    for argv in (("calibrate", "--model", model, "--recording", recording, "--out", folder),
                 ("train", "--eegmat", small_eegmat(tmp_path, eegmat_dir), "--members", "2",
                  *TINY_TRAINING, "--out", folder)):
        for force in ((), ("--force",)):
            code, _, err = cli(capsys, *argv, *force)
            line = one_line_error(err, argv[0])
            assert code == 2 and f"{folder} is not empty and holds no neurofb model" in line
            assert digest(folder) == before


def test_calibrate_writes_a_new_or_empty_folder_and_replaces_a_model_with_force(
        model, recording, tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    argv = ("calibrate", "--model", model, "--recording", recording, "--out", folder)
    assert cli(capsys, *argv)[0] == 0
    code, _, err = cli(capsys, *argv)
    assert code == 2 and "already holds a model" in one_line_error(err, "calibrate")
    assert cli(capsys, *argv, "--force")[0] == 0
    assert read_meta(folder)["personal"]["file"] == "personal.safetensors"


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "directory"])
def test_every_command_refuses_a_model_whose_weights_changed(damage, model, recording, tmp_path,
                                                            capsys):
    """The engine runs the graphs, but a folder whose weights are not the ones model.json
    records is not the model its card describes (and calibrate would copy them on)."""
    folder = tmp_path / "changed"
    shutil.copytree(model, folder)
    weights = folder / "weights.safetensors"
    good = weights.read_bytes()
    weights.unlink()
    if damage == "flip":
        weights.write_bytes(good[:-9] + bytes([good[-9] ^ 1]) + good[-8:])
    elif damage == "truncate":
        weights.write_bytes(good[: len(good) // 2])
    elif damage == "directory":
        weights.mkdir()
    for argv in (("replay", DEMO, "--model", folder, "--speed", "max"),
                 ("calibrate", "--model", folder, "--recording", recording, "--out",
                  tmp_path / "personal")):
        code, _out, err = cli(capsys, *argv)
        line = one_line_error(err, argv[0])
        assert code == 2 and "weights.safetensors" in line, line
        assert "does not match" in line or "is missing" in line, line
    assert not (tmp_path / "personal").exists()


# -- train: inputs read before the work ----------------------------------------------------------


@pytest.mark.parametrize(("content", "words"), [
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "is not a JSON file"),
    (b'{"summary": {"cold": ', "is not a JSON file"),
    (b'{"summary": [1, 2], "protocol": {}}', "not of that form"),
    # another model's plain `evaluate --json` figures are not this model's
    (b'{"auc": 0.786, "model": "models/focus-default", "held_out": false}',
     "is not an `evaluate --cv` result"),
    (b'[0.7, 0.8]', "is not an `evaluate --cv` result"),
])  # fmt: skip
def test_train_reads_metrics_before_training(content, words, eegmat_dir, tmp_path, capsys):
    metrics = tmp_path / "metrics.json"
    metrics.write_bytes(content)
    out = tmp_path / "model"
    code, _, err = cli(capsys, "train", "--eegmat", small_eegmat(tmp_path, eegmat_dir),
                       "--members", "2", *TINY_TRAINING, "--metrics", metrics, "--out", out)
    line = one_line_error(err, "train")  # one line: no progress bar, nothing trained
    assert code == 2 and f"--metrics {metrics}" in line and words in line
    assert not out.exists()


@pytest.mark.parametrize("device", ["nosuch", "cuda:99", "cpu:3"])
def test_train_device_must_be_one_this_machine_has(device, eegmat_dir, tmp_path, capsys):
    out = tmp_path / "model"
    line = argparse_error(capsys, "train", "--eegmat", eegmat_dir, "--device", device, "--out",
                          out)
    assert f"argument --device: {device!r} is not a device of this machine" in line
    assert "choose from cpu" in line and "Traceback" not in line
    assert not out.exists()


# -- model.json names only files in its folder ---------------------------------------------------


@pytest.fixture(scope="module")
def personal(model, recording, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("personal") / "me"
    personalise(model, recording, out)
    return out


@pytest.mark.parametrize(("keys", "value"), [
    (("onnx", "file"), "../outside/model.onnx"),
    (("onnx", "file"), "{outside}/model.onnx"),
    (("onnx", "file"), "/etc/passwd"),
    (("onnx", "baseline", "file"), "../outside/baseline.onnx"),
    (("onnx", "baseline", "file"), ".."),
    (("personal", "file"), "../outside/personal.safetensors"),
    (("weights", "file"), "sub/weights.safetensors"),
])  # fmt: skip
def test_model_json_cannot_point_outside_its_folder(keys, value, personal, tmp_path, capsys):
    # The files outside are genuine copies (their hashes match model.json): only where they
    # lie is wrong, and that alone must refuse them.
    outside = tmp_path / "outside"
    shutil.copytree(personal, outside)
    folder = tmp_path / "tampered"
    shutil.copytree(personal, folder)
    card = json.loads((folder / "model.json").read_text())
    section = card
    for key in keys[:-1]:
        section = section[key]
    section[keys[-1]] = value.format(outside=outside)
    (folder / "model.json").write_text(json.dumps(card))
    field = ".".join(keys)
    with pytest.raises(ModelError, match=rf"{field} must be the name of a file in the model"):
        read_meta(folder)
    # the readers check too, whoever hands them model.json's sections
    if keys[0] == "onnx":
        mode = "baseline" if "baseline" in keys else "cold"
        with pytest.raises(ModelError, match=field):
            load_network(folder, card, mode=mode)
    if keys[0] == "personal":
        with pytest.raises(ModelError, match=field):
            load_heads(folder, card["personal"])
    code, _, err = cli(capsys, "replay", DEMO, "--seconds", "4", "--model", folder)
    assert code == 2 and f"{field} must be the name of a file" in one_line_error(err, "replay")


# -- training: every member validated, or said -------------------------------------------------


def test_train_refuses_members_it_cannot_validate_before_training(eegmat_dir, tmp_path,
                                                                    capsys):
    three = small_eegmat(tmp_path, eegmat_dir, (0, 1, 2))
    out = tmp_path / "model"
    code, _, err = cli(capsys, "train", "--eegmat", three, *TINY_TRAINING, "--out", out)
    line = one_line_error(err, "train")  # the default 5 members on 3 people
    assert code == 2 and "cannot be validated" in line and "3 subjects" in line
    assert "train at most 3 members (--members)" in line and not out.exists()
    line = argparse_error(capsys, "train", "--eegmat", three, "--subjects", "0,1", "--members",
                          "1", *TINY_TRAINING, "--out", out)  # refused when read, no data loaded
    assert "--members: must be at least 2" in line and not out.exists()
    code, _, err = cli(capsys, "train", "--eegmat", three, "--subjects", "0", "--members", "2",
                       *TINY_TRAINING, "--out", out)
    line = one_line_error(err, "train")
    assert code == 2 and "at least 2 subjects" in line and "the data has 1" in line
    assert not out.exists()


def test_train_on_one_flat_recording_is_one_line_in_a_real_process(recording, tmp_path):
    flat = rewrite(recording, tmp_path / "flat", np.zeros_like)
    res = run("train", "--recordings", flat, "--members", "2", *TINY_TRAINING, "--out",
              tmp_path / "model", env={"NEUROFB_HOME": str(tmp_path / "home")})
    line = one_line_error(res.stderr, "train")  # no numpy RuntimeWarning, no "Input contains NaN"
    assert res.returncode == 2 and "clean enough to score" in line and "flat" in line
    assert not (tmp_path / "model").exists()


def test_retraining_members_without_validation_is_said(model, recording, tmp_path, capsys):
    # fine-tuning on one recording (the app's retraining): allowed, and said
    out = tmp_path / "retrained"
    code, _, err = cli(capsys, "train", "--recordings", recording, "--init", model,
                       "--epochs", "1", "--out", out)
    assert code == 0
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "could not be validated" in warning[0]
    modes = read_meta(out)["training"]["modes"]
    assert modes["cold"]["unvalidated_members"] and modes["baseline"]["unvalidated_members"]


# -- calibration: clean windows only ---------------------------------------------------------


@pytest.mark.parametrize(("value", "reason"), [
    (0.0, "flat"),
    (187500.0, "railed"),
    (3e38, "railed"),
    (np.nan, "with missing samples"),
])  # fmt: skip
def test_calibrate_refuses_a_dead_recording(value, reason, model, recording, tmp_path, capsys):
    dead = rewrite(recording, tmp_path / "dead", lambda x: np.full_like(x, value))
    out = tmp_path / "me"
    code, _, err = cli(capsys, "calibrate", "--model", model, "--recording", dead, "--out", out)
    line = one_line_error(err, "calibrate")
    assert code == 2 and "clean enough to score" in line and reason in line, line
    assert "no labelled block is as long" not in line  # the blocks are 40 s long
    assert not out.exists()


def test_calibrate_refuses_a_class_left_without_clean_windows(model, recording, tmp_path,
                                                              capsys):
    def dead_task(x: np.ndarray) -> np.ndarray:
        x[:, x.shape[1] // 2:] = 0.0  # the electrodes came off for the task block
        return x

    dead = rewrite(recording, tmp_path / "dead-task", dead_task)
    code, _, err = cli(capsys, "calibrate", "--model", model, "--recording", dead, "--out",
                       tmp_path / "me")
    line = one_line_error(err, "calibrate")
    assert code == 2 and "too few clean windows" in line and "0 of task" in line
    assert "the quality check left out" in line and "flat" in line


def test_a_synthetic_board_recording_is_gated_as_live(recording, tmp_path):
    """BrainFlow's synthetic board streams sines that fail the quality gate; live and in replay
    only missing samples gate it, and so in calibration (the app's calibration exercise runs on
    it without a headset)."""
    from neurofb.training.recordings import recording_windows

    sines = rewrite(recording, tmp_path / "synthetic", np.zeros_like, board="synthetic")
    fs = recording_windows(open_recording(sines))
    assert len(fs) == fs.files[0]["windows_rest"] + fs.files[0]["windows_task"] > 60


def test_retraining_a_personalised_model_is_refused(personal, recording, tmp_path, capsys):
    """train --init on a personalised folder would write a population model without the head
    (recording the parent by the personalised name): refused, as calibrate and export are."""
    out = tmp_path / "retrained"
    code, _, err = cli(capsys, "train", "--recordings", recording, "--init", personal,
                       "--epochs", "1", "--out", out)
    line = one_line_error(err, "train")
    assert code == 2 and "is personalised to one person" in line and "(model.json: parent)" in line
    assert not out.exists()
