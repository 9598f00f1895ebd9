"""What `neurofb train` records in model.json, and what it refuses before training: a retrained
model's parent and the parent's data, strict JSON, the recipe as run, a cross-validation of this
very training, every named recording, a working --members."""

from __future__ import annotations

import contextlib
import json
import shlex
import shutil
from pathlib import Path

import pytest
from focus_helpers import small_eegmat, tiny_model_dir
from safety_helpers import REPO, cli, demo_copy, one_line_error

from neurofb.focus.card import read_meta
from neurofb.focus.io import write_meta

DEFAULT_MODEL = REPO / "models" / "focus-default"
TINY = ("--epochs", "1", "--members", "2", "--d-model", "8", "--heads", "2", "--device", "cpu")


def strict_json(text: str) -> dict:
    """Parse ``text`` as JSON proper: NaN / Infinity / -Infinity are errors."""
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def retrained_model(tmp_path_factory) -> tuple[Path, Path]:
    """``train --recordings demo --init models/parent`` run in a folder of its own, --init given
    relative to it: (the model written, the parent model)."""
    from neurofb.cli import main

    work = tmp_path_factory.mktemp("retrain")
    demo = demo_copy(work)
    parent = Path(shutil.copytree(DEFAULT_MODEL, work / "models" / "parent"))
    with contextlib.chdir(work):
        code = main(["train", "--recordings", demo.name, "--init", "models/parent",
                     "--epochs", "1", "--device", "cpu", "--out", "retrained"])
    assert code == 0
    return work / "retrained", parent


# -- --init: the parent and what it learnt from ----------------------------------------------


def test_a_retrained_model_records_its_parent_by_absolute_path_and_the_parents_data(
        retrained_model):
    out, parent = retrained_model
    meta, parent_meta = read_meta(out), read_meta(parent)
    assert meta["parent"]["path"] == str(parent.resolve())
    assert Path(meta["parent"]["path"]).is_absolute()
    assert meta["parent"]["sha256"] == parent_meta["weights"]["sha256"]
    data = meta["training"]["data"]
    assert data["parent"] == parent_meta["training"]["data"]  # the 24 eegmat subjects, hashed
    assert len(data["parent"]["eegmat"]["subjects"]) == 24
    assert [f["file"] for f in data["recordings"]["files"]] == ["demo"]


# -- model.json is JSON ----------------------------------------------------------------------


def test_model_json_of_members_without_validation_is_strict_json(retrained_model):
    out, _ = retrained_model
    meta = strict_json((out / "model.json").read_text(encoding="utf-8"))
    members = meta["training"]["modes"]["cold"]["members"]
    unvalidated = [m for m in members if m["n_val"] == 0]
    assert unvalidated  # one recording: members 2-5 have nothing held out
    for m in unvalidated:
        assert m["stage2"]["best_val_auc"] is None
        assert None in m["stage2"]["history"]  # NaN / -inf written as null


def test_write_meta_writes_non_finite_numbers_as_null(tmp_path):
    write_meta(tmp_path, {"a": float("nan"), "b": [1.0, float("-inf"), (float("inf"),)],
                          "c": {"d": 0.5}})
    written = strict_json((tmp_path / "model.json").read_text(encoding="utf-8"))
    assert written.pop("contract_sha256")  # the record of the engine's numbers, always added
    assert written == {"a": None, "b": [1.0, None, [None]], "c": {"d": 0.5}}


# -- the recipe as run ------------------------------------------------------------------------


def test_mixed_precision_is_recorded_as_used_on_the_cpu(retrained_model):
    out, _ = retrained_model
    for mode in read_meta(out)["training"]["modes"].values():
        assert mode["recipe"]["mixed_precision"] is False  # autocast is CUDA only


# -- --metrics: a cross-validation of this very training --------------------------------------


@pytest.fixture(scope="module")
def cv_run(eegmat_dir, tmp_path_factory) -> tuple[Path, Path, Path]:
    """A real `evaluate --cv 2` of the tiny recipe on eegmat subjects 0, 1, 2, 5:
    (its result file, the eegmat folder, the feature cache)."""
    from neurofb.cli import main

    work = tmp_path_factory.mktemp("cv")
    eegmat = small_eegmat(work, eegmat_dir, (0, 1, 2, 5))
    out, cache = work / "cv.json", work / "cache"
    code = main(cv_argv(eegmat, cache, out))
    assert code == 0
    return out, eegmat, cache


def cv_argv(eegmat: Path, cache: Path, out: Path) -> list[str]:
    """The `evaluate --cv` command line of :func:`cv_run`."""
    return ["evaluate", "--cv", "2", "--eegmat", str(eegmat), *TINY, "--montage", "full",
            "--cache", str(cache), "--out", str(out), "--json"]


def test_a_cross_validation_of_this_training_is_recorded_with_its_command(cv_run, tmp_path,
                                                                          capsys):
    cv, eegmat, cache = cv_run
    out = tmp_path / "model"
    code, _, err = cli(capsys, "train", "--eegmat", eegmat, *TINY, "--cache", cache,
                       "--metrics", cv, "--out", out)
    assert code == 0, err
    recorded = read_meta(out)["metrics"]["cross_validation"]
    # the command as it was run, which evaluate --cv records in its result
    assert recorded["command"] == shlex.join(["neurofb", *cv_argv(eegmat, cache, cv)])
    assert recorded["protocol"]["subjects"] == [0, 1, 2, 5]


def _recorded_command(cv_run, tmp_path, capsys, protocol_command: str | None) -> str:
    """The command train --metrics records from the CV result without its own ``command``
    (as an older neurofb wrote it), with ``protocol_command`` in its protocol (or none)."""
    cv, eegmat, cache = cv_run
    doc = json.loads(cv.read_text(encoding="utf-8"))
    doc.pop("command")
    if protocol_command is not None:
        doc["protocol"]["command"] = protocol_command
    metrics = tmp_path / "cv-edited.json"
    metrics.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "model"
    code, _, err = cli(capsys, "train", "--eegmat", eegmat, *TINY, "--cache", cache,
                       "--metrics", metrics, "--out", out)
    assert code == 0, err
    return read_meta(out)["metrics"]["cross_validation"]["command"]


def test_a_result_without_its_command_says_so(cv_run, tmp_path, capsys):
    # an older result: no command is invented for it (its protocol holds the settings)
    assert _recorded_command(cv_run, tmp_path, capsys, None).startswith("not recorded")


def test_a_command_the_protocol_records_is_kept(cv_run, tmp_path, capsys):
    command = "neurofb evaluate --cv 2 --eegmat E --subjects 0-2,5 (as run)"
    assert _recorded_command(cv_run, tmp_path, capsys, command) == command


@pytest.mark.parametrize(("change", "words"), [
    (("--subjects", "0-2"), ["eegmat subjects 0-2,5 there, 0-2 here"]),
    (("--seed", "3", "--baseline", "30"),
     ["--seed 0 there, 3 here", "--baseline 60 there, 30 here"]),
    (("--recordings", "DEMO"), ["this training adds --recordings"]),
])  # fmt: skip
def test_a_cross_validation_of_another_training_is_refused_before_training(
        change, words, cv_run, tmp_path, capsys):
    cv, eegmat, cache = cv_run
    change = [str(demo_copy(tmp_path)) if c == "DEMO" else c for c in change]
    out = tmp_path / "model"
    code, _, err = cli(capsys, "train", "--eegmat", eegmat, *TINY, "--cache", cache,
                       "--metrics", cv, *change, "--out", out)
    line = one_line_error(err, "train")  # one line: no progress bar, nothing trained
    assert code == 2 and f"--metrics {cv} is a cross-validation of another training" in line
    assert all(w in line for w in words), line
    assert not out.exists()


# -- every recording named is trained on -------------------------------------------------------


def test_a_named_recording_without_labels_is_an_error_naming_it(tmp_path, capsys):
    labelled = demo_copy(tmp_path, "labelled")
    unlabelled = demo_copy(tmp_path, "unlabelled")
    markers = unlabelled / "markers.jsonl"
    kept = [line for line in markers.read_text(encoding="utf-8").splitlines()
            if '"block_' not in line]
    markers.write_text("\n".join(kept) + "\n", encoding="utf-8")
    out = tmp_path / "model"
    code, _, err = cli(capsys, "train", "--recordings", labelled, unlabelled,
                       "--init", tiny_model_dir(tmp_path), "--epochs", "1", "--out", out)
    line = one_line_error(err, "train")
    assert code == 2 and f"--recordings {unlabelled} cannot be trained on" in line
    assert "has no labelled rest/task blocks" in line
    assert not out.exists()
    # a folder of recordings: its unlabelled ones are left out, each named in a warning
    folder = tmp_path / "all"
    folder.mkdir()
    labelled.rename(folder / "labelled")
    unlabelled.rename(folder / "unlabelled")
    code, _, err = cli(capsys, "train", "--recordings", folder, "--init",
                       tmp_path / "tiny", "--epochs", "1", "--out", out)
    assert code == 0, err
    assert f"warning: {folder / 'unlabelled'} left out:" in err
    used = read_meta(out)["training"]["data"]["recordings"]["files"]
    assert [Path(f["file"]).name for f in used] == ["labelled"]


# -- --members ---------------------------------------------------------------------------------


def test_one_member_is_refused_when_the_flag_is_read(tmp_path, capsys):
    with pytest.raises(SystemExit) as end:
        cli(capsys, "train", "--eegmat", "/nonexistent", "--members", "1", "--out",
            tmp_path / "model")
    err = capsys.readouterr().err
    assert end.value.code == 2
    assert "argument --members: must be at least 2, got 1" in err
    assert "would train on nothing" in err
    with pytest.raises(SystemExit):
        cli(capsys, "train", "--help")
    assert "at least 2" in " ".join(capsys.readouterr().out.split())
    # evaluate --cv trains the same ensembles: the same check, when the flag is read
    with pytest.raises(SystemExit) as end:
        cli(capsys, "evaluate", "--cv", "2", "--eegmat", "/nonexistent", "--members", "1")
    assert end.value.code == 2
    assert "argument --members: must be at least 2, got 1" in capsys.readouterr().err


# -- problems with the training data are said as every command says them ------------------------


def test_train_says_which_eegmat_file_is_missing(eegmat_dir, tmp_path, capsys):
    folder = small_eegmat(tmp_path, eegmat_dir, subjects=(0, 1, 2))
    (folder / "Subject05_1.edf").symlink_to(eegmat_dir / "Subject05_1.edf")  # its task is not
    code, _, err = cli(capsys, "train", "--eegmat", folder, *TINY, "--out", tmp_path / "m",
                       "--cache", tmp_path / "cache")
    assert code == 0, err
    assert "warning: Subject05_2.edf is missing" in err and "subject 5 is left out" in err
    assert read_meta(tmp_path / "m")["training"]["data"]["eegmat"]["subjects"] == [0, 1, 2]
