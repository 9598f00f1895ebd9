"""Every error a user can cause is one line saying what to do, and nothing is silently wrong
(docs/safety.md): bad flags, damaged metadata, models that cannot score, slow sources, files too
short for a window, ``--debug`` for the traceback. The real CLI on real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from safety_helpers import DEMO, cli, demo_copy, one_line_error

from neurofb.errors import ModelError
from neurofb.focus.card import sha256_file
from neurofb.focus.io import load_model
from neurofb.paths import default_model_dir
from neurofb.recording import RecordingWriter, open_recording
from neurofb.stream.replay import ReplaySource
from neurofb.types import Chunk, SourceInfo


def _model_with(tmp_path: Path, name: str, change) -> Path:
    """A copy of the shipped model whose weights ``change`` edits; the hash is updated to
    match, so only the values themselves are wrong."""
    folder = tmp_path / name
    shutil.copytree(default_model_dir(), folder)
    weights = folder / "weights.safetensors"
    with safe_open(str(weights), framework="pt") as f:
        meta = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}
    first = sorted(state)[0]
    state[first] = change(state[first])
    save_file(state, str(weights), metadata=meta)
    card = json.loads((folder / "model.json").read_text())
    card["weights"]["sha256"] = sha256_file(weights)
    (folder / "model.json").write_text(json.dumps(card))
    return folder


@pytest.mark.parametrize(("kind", "change", "message"), [
    ("nan", lambda t: torch.full_like(t, float("nan")), "NaN or infinite"),
    ("inf", lambda t: t.clone().fill_(float("inf")), "NaN or infinite"),
    ("int32", lambda t: t.to(torch.int32), "not floating point"),
])  # fmt: skip
def test_a_model_that_cannot_score_is_refused_at_load(kind, change, message, tmp_path, capsys):
    folder = _model_with(tmp_path, kind, change)
    with pytest.raises(ModelError, match=message):
        load_model(folder)
    # The engine runs the model's ONNX graph, exported from the weights: a graph that no longer
    # matches them (its stamp of the weights' hash) is refused before anything is scored.
    code, _, err = cli(capsys, "replay", DEMO, "--seconds", "4", "--model", folder)
    assert code == 2 and "exported from other weights" in one_line_error(err, "replay")
    # calibration runs the graphs too (no torch): the same refusal, nothing written
    code, _, err = cli(capsys, "calibrate", "--model", folder, "--recording", DEMO,
                       "--out", tmp_path / "out")
    assert code == 2 and "exported from other weights" in one_line_error(err, "calibrate")
    assert not (tmp_path / "out").exists()


def test_model_json_fields_of_the_wrong_type_are_one_line(tmp_path, capsys):
    for key, value in (("min_channels", "x"), ("sfreq", "fast"), ("channels", "Fz")):
        folder = tmp_path / key
        shutil.copytree(default_model_dir(), folder)
        card = json.loads((folder / "model.json").read_text())
        card["input"][key] = value
        (folder / "model.json").write_text(json.dumps(card))
        code, _, err = cli(capsys, "replay", DEMO, "--seconds", "4", "--model", folder)
        line = one_line_error(err, "replay")
        assert code == 2 and f"input.{key}" in line and "invalid literal" not in line


@pytest.mark.parametrize(("argv", "words"), [
    (("stream", "--seconds", "inf"), "finite"),
    (("stream", "--seconds", "nan"), "finite"),
    (("replay", str(DEMO), "--speed", "1e-300"), "between 0.01"),
    (("replay", str(DEMO), "--speed", "0"), "between 0.01"),
    (("replay", str(DEMO), "--window", "100000"), "--window must be in"),
    (("replay", str(DEMO), "--hop", "3"), "--hop must be in"),
    (("replay", str(DEMO), "--hop", "1e-300"), "--hop must be in [0.01"),
    (("replay", str(DEMO), "--window", "0.5"), "reads 2 s windows; a 0.5 s window is too short"),
    (("replay", str(DEMO), "--min-quality", "nan"), "--min-quality must be in"),
    (("replay", str(DEMO), "--h-freq", "200"), "--h-freq"),
    (("replay", str(DEMO), "--seek", "1000"), "past the end"),
    (("replay", str(DEMO), "--loop"), "--seconds"),
    (("stream", "--board", "no-such-board", "--seconds", "1"), "no-such-board"),
    (("export", str(DEMO), "--to", "mat"), "invalid choice"),
    # reading options the source does not take would do nothing: said, not ignored
    (("replay", str(DEMO), "--montage", "muse"), "--montage is for sources that name no"),
    (("replay", str(DEMO), "--stream", "EEG"), "--stream is for XDF files"),
    (("replay", str(DEMO), "--unit", "uV"), "--unit is for sources that give no unit"),
    (("export", str(DEMO), "--to", "edf", "--board", "cyton", "--out", "/nonexistent/x.edf"),
     "--board is for BrainFlow CSV exports"),
    (("export", str(DEMO), "--to", "bids", "--force"), "--force does nothing for a BIDS"),
    (("replay", str(DEMO), "--board", "cyton"), "--board is for BrainFlow CSV files"),
    (("stream", "--montage", "cyton", "--seconds", "1"), "--montage is for LSL streams"),
    (("train", "--eegmat", "/nonexistent", "--epochs", "0"), "--epochs: must be at least 1"),
    (("evaluate", "--eegmat", "/nonexistent", "--members", "x"), "--members: must be a whole"),
    (("train", "--init", str(DEMO.parent.parent / "models" / "focus-default"), "--recordings",
      str(DEMO), "--members", "3", "--out", "/nonexistent/x"), "--members does not apply"),
    # an empty value is never "the default" or "."; a trace is a file, not stdout or a device
    (("export", str(DEMO), "--to", "edf", "--out", ""), "--out is empty"),
    (("stream", "--record", "", "--seconds", "1"), "--record is empty"),
    (("replay", ""), "the path is empty"),
    (("replay", str(DEMO), "--trace", "-"), "- is no trace name"),
    (("replay", str(DEMO), "--trace", "/dev/null", "--force"), "is not a regular file"),
    (("stream", "--unit", "mV", "--seconds", "1"), "--unit is for LSL streams"),
    (("stream", "--serial-port", "/dev/ttyUSB0", "--seconds", "1"), "no connection settings"),
    (("stream", "--board", "lsl", "--mac-address", "00:11", "--seconds", "1"),
     "--mac-address is for BrainFlow boards"),
])  # fmt: skip
def test_bad_flags_are_one_line(argv, words, capsys):
    code, out, err = cli_exit(capsys, *argv)
    assert code == 2 and out == ""
    line = one_line_error(err, argv[0])
    assert words in line, line
    assert "usage:" not in err


def cli_exit(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """Like ``cli``, also for argparse errors (which exit)."""
    try:
        return cli(capsys, *argv)
    except SystemExit as end:
        out, err = capsys.readouterr()
        return int(end.code or 0), out, err


def test_debug_shows_the_traceback_only_when_asked(capsys, tmp_path):
    missing = str(tmp_path / "missing")
    code, _, err = cli(capsys, "replay", missing)
    assert code == 2 and "Traceback" not in err
    for argv in (("--debug", "replay", missing), ("replay", missing, "--debug")):
        code, _, err = cli(capsys, *argv)
        assert code == 2 and "Traceback" in err
        assert err.strip().splitlines()[-1].startswith("neurofb replay: error: ")


def test_damaged_meta_values_are_one_line(tmp_path, capsys):
    rec = demo_copy(tmp_path)
    meta = json.loads((rec / "meta.json").read_text())
    for key, value in (("sfreq", 1e300), ("byte_order", "middle"), ("sfreq", -1)):
        (rec / "meta.json").write_text(json.dumps({**meta, key: value}))
        code, _, err = cli(capsys, "replay", rec)
        line = one_line_error(err, "replay")
        assert code == 2 and key in line and "meta.json" in line
        assert "Maximum allowed size" not in line
    names = list(meta["ch_names"])
    names[1] = names[0]  # two channels called Fp1: which one would the model read?
    (rec / "meta.json").write_text(json.dumps({**meta, "ch_names": names}))
    code, _, err = cli(capsys, "replay", rec)
    assert code == 2 and f"more than one channel {names[0]}" in one_line_error(err, "replay")


def test_big_endian_samples_are_read_as_meta_json_says(tmp_path):
    little = open_recording(DEMO)
    rec = demo_copy(tmp_path)
    meta = json.loads((rec / "meta.json").read_text())
    rows = np.fromfile(rec / "eeg.bin", dtype="<f4")
    rows.astype(">f4").tofile(rec / "eeg.bin")
    (rec / "meta.json").write_text(json.dumps({**meta, "byte_order": "big"}))
    big = open_recording(rec)
    assert np.array_equal(np.asarray(big.data), np.asarray(little.data))
    assert np.array_equal(np.asarray(big.timestamps), np.asarray(little.timestamps))


def _recording(path: Path, sfreq: float, seconds: float) -> Path:
    """A recording of the demo's first seconds (its 19 electrodes) at ``sfreq``."""
    from scipy.signal import resample

    demo = open_recording(DEMO)
    n_in = int(seconds * demo.sfreq)
    n = int(seconds * sfreq)
    data = resample(np.asarray(demo.data[:, :n_in]), n, axis=1)
    info = SourceInfo(demo.ch_names, sfreq, "test")
    with RecordingWriter(path, info) as w:
        w.write_chunk(Chunk(data, np.arange(n) / sfreq, info.ch_names, sfreq))
    return path


def test_a_90_hz_recording_plays_with_a_lower_low_pass_and_a_note(tmp_path, capsys):
    rec = _recording(tmp_path / "slow", 90.0, 20.0)
    code, out, err = cli(capsys, "replay", rec)
    assert code == 0, err
    assert "note:" in err and "low-pass at 40.5 Hz instead of 45 Hz" in err
    assert "with target model:" in out and " 0 updates" not in out
    code, _, err = cli(capsys, "replay", rec, "--h-freq", "46")
    assert code == 2 and "--h-freq" in one_line_error(err, "replay")


def test_no_update_says_why(tmp_path, capsys):
    rec = _recording(tmp_path / "short", 250.0, 1.0)
    code, out, _ = cli(capsys, "replay", rec, "--target", "engagement")
    assert code == 0
    assert ": 0 updates" in out
    assert "no update: 1.00 s of samples arrived" in out and "2 s analysis window" in out
    code, out, _ = cli(capsys, "stream", "--seconds", "0.5", "--target", "engagement")
    assert code == 0 and "no update:" in out and "--window" in out


def test_speed_bounds_in_the_engine():
    demo = open_recording(DEMO)
    for bad in (1e-300, 0.0, -1.0, float("inf"), 1e9):
        with pytest.raises(ValueError, match="between"):
            ReplaySource(demo, speed=bad)


def test_import_errors_name_import_options_only(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "rec"):
        code, _, err = cli(capsys, "import", DEMO.parent / "demo-eegmat" / "eeg.bin",
                           "--out", out)
        assert code == 2 and "--record" not in one_line_error(err, "import")


def test_evaluate_cv_below_two_is_an_error(eegmat_dir, capsys, tmp_path):
    for k in ("0", "1", "-3"):
        code, _, err = cli(capsys, "evaluate", "--eegmat", eegmat_dir, "--cv", k)
        assert code == 2 and "at least 2 folds" in one_line_error(err, "evaluate")
    code, _, err = cli(capsys, "evaluate", "--eegmat", eegmat_dir, "--subjects", "0", "--cv", "2")
    line = err.strip().splitlines()[-1]  # after the progress line of the features
    assert code == 2 and "the 1 subject given; give more subjects" in line, line
    # the flags of the models --cv trains do nothing without it: said, not ignored
    code, _, err = cli(capsys, "evaluate", "--eegmat", eegmat_dir, "--subjects", "0",
                       "--epochs", "3", "--cv-seeds", "1")
    assert code == 2 and "--cv-seeds, --epochs are for --cv" in one_line_error(err, "evaluate")
    # folds too small for the recipe's members: one line, not a traceback
    code, _, err = cli(capsys, "evaluate", "--eegmat", eegmat_dir, "--subjects", "0,1",
                       "--cv", "2")
    line = err.strip().splitlines()[-1]
    assert code == 2 and line.startswith("neurofb evaluate: error: --cv 2 on 2 subjects:"), line
    # and --subjects without --eegmat is not ignored by train
    code, _, err = cli(capsys, "train", "--recordings", DEMO, "--subjects", "0,1", "--out",
                       tmp_path / "never")
    assert code == 2 and "--subjects is for --eegmat" in one_line_error(err, "train")


def test_a_file_where_a_folder_is_needed_says_so(tmp_path, capsys, eegmat_dir):
    afile = tmp_path / "afile"
    afile.write_text("")
    for argv, words in ((("replay", DEMO, "--model", afile), "is a file, not a folder"),
                        (("evaluate", "--eegmat", afile), "is a file, not a folder"),
                        (("sessions", "--reindex", "--recordings", afile,
                          "--data-dir", tmp_path), "where a folder is needed"),
                        (("evaluate", "--eegmat", eegmat_dir, "--subjects", "0,1",
                          "--cache", afile), "where a folder is needed")):
        code, _, err = cli(capsys, *argv)
        line = one_line_error(err, argv[0])
        assert code == 2 and words in line and "File exists" not in line, line
