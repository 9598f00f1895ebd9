"""``neurofb evaluate`` on data it must not trust blindly: renamed training files, output files
that exist or collide, truncated and incomplete eegmat folders, a baseline longer than the rest;
and what it reports (CV f1/windows, baseline mode's late rest)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from focus_helpers import small_eegmat, tiny_model_dir

from neurofb.cli import main
from neurofb.focus.card import sha256_file
from neurofb.training.eegmat import DatasetError, load_eegmat

TINY_CV = ["--epochs", "1", "--patience", "1", "--members", "2", "--d-model", "8", "--heads",
           "2", "--batch-size", "128"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    """One feature cache for the module's tests (each subject's EDF files decoded once)."""
    return str(tmp_path_factory.mktemp("cache"))


def _renamed(folder: Path, eegmat_dir: Path, pairs: dict[int, int]) -> Path:
    """``folder`` holding copies of eegmat subjects under other numbers {old: new}."""
    folder.mkdir(exist_ok=True)
    for old, new in pairs.items():
        for run in (1, 2):
            (folder / f"Subject{new:02d}_{run}.edf").write_bytes(
                (eegmat_dir / f"Subject{old:02d}_{run}.edf").read_bytes())
    return folder


def _evaluate(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["evaluate", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_renamed_training_files_are_not_held_out(eegmat_dir, tmp_path, capsys, cache):
    """The shipped model was trained on Subject00: the same files as Subject30 are no held-out
    data, by their SHA-256."""
    folder = _renamed(tmp_path / "renamed", eegmat_dir, {0: 30})
    rc, out, _ = _evaluate(capsys, "--model", "models/focus-default", "--eegmat", str(folder),
                           "--subjects", "30", "--cache", cache, "--json")
    res = json.loads(out)
    assert rc == 0 and res["held_out"] is False
    note = " ".join(res["notes"])
    assert "[30]" in note and "Subject30_1.edf = training file Subject00_1.edf" in note


def test_files_of_a_parent_model_are_not_held_out(eegmat_dir, tmp_path, capsys, cache):
    """A model retrained with --init keeps its parent's training.data under ``parent``
    (recursively): the grandparent's files count too."""
    from focus_helpers import random_lra

    from neurofb.focus.io import save_model
    from neurofb.training.model_folder import baseline_section

    folder = _renamed(tmp_path / "renamed", eegmat_dir, {2: 7})
    first = {"eegmat": {"subjects": [2], "files": [
        {"file": "Subject02_2.edf", "sha256": sha256_file(eegmat_dir / "Subject02_2.edf")}]}}
    meta = {"name": "child", "input": {"window_s": 2.0, "min_channels": 3},
            "baseline": baseline_section(),
            "training": {"data": {"recordings": {"files": []},
                                  "parent": {"eegmat": {"subjects": [40], "files": []},
                                             "parent": first}}}}
    model = save_model({"cold": random_lra(0), "baseline": random_lra(100)},
                       tmp_path / "child", meta)
    base = ["--eegmat", str(folder), "--cache", cache, "--json",
            "--montage", "muse"]
    res = json.loads(_evaluate(capsys, "--model", str(model), *base)[1])
    assert res["held_out"] is False
    assert "Subject07_2.edf = training file Subject02_2.edf" in " ".join(res["notes"])
    res = json.loads(_evaluate(capsys, "--model", str(tiny_model_dir(tmp_path)), *base)[1])
    assert res["held_out"] is True and not any("training data" in n for n in res["notes"])


def test_cv_out_files_are_checked_before_any_work(eegmat_dir, tmp_path, capsys, cache):
    folder = small_eegmat(tmp_path, eegmat_dir, (0, 1))
    base = ["--eegmat", str(folder), "--cv", "2", "--cache", cache, *TINY_CV]
    rc, _, err = _evaluate(capsys, *base, "--out", str(tmp_path / "cv.md"))
    assert rc == 2 and "--out" in err and "cv.json" in err
    assert not (tmp_path / "cv.md").exists() and not (tmp_path / "cv.npz").exists()
    (tmp_path / "cv.md").write_text("my tables\n")
    rc, _, err = _evaluate(capsys, *base, "--out", str(tmp_path / "cv.json"))
    assert rc == 2 and "cv.md exists" in err and "--force" in err
    assert (tmp_path / "cv.md").read_text() == "my tables\n"
    assert not (tmp_path / "cv.json").exists() and not (tmp_path / "cv.npz").exists()


def test_cv_json_has_f1_and_windows(eegmat_dir, tmp_path, capsys, cache):
    folder = small_eegmat(tmp_path, eegmat_dir, (0, 1, 2))
    (tmp_path / "cv.md").write_text("old\n")
    rc, out, _ = _evaluate(capsys, "--eegmat", str(folder), "--cv", "3", "--cache",
                           cache, *TINY_CV, "--montage", "muse", "--json",
                           "--out", str(tmp_path / "cv.json"), "--force")
    res = json.loads(out)
    assert rc == 0 and 0 <= res["f1"] <= 1 and res["windows"] == 3 * 242
    for method, row in res["summary"]["cold"]["muse"].items():
        assert 0 <= row["f1"] <= 1 and row["windows"] == 3 * 242, method
    assert json.loads((tmp_path / "cv.json").read_text())["f1"] == res["f1"]
    assert "### cold" in (tmp_path / "cv.md").read_text()
    assert (tmp_path / "cv.npz").is_file()


def test_truncated_file_is_read_with_a_warning(eegmat_dir, tmp_path, capsys, caplog, cache):
    folder = tmp_path / "eegmat"
    folder.mkdir()
    (folder / "Subject40_1.edf").write_bytes((eegmat_dir / "Subject00_1.edf").read_bytes()
                                             [:300_000])
    (folder / "Subject40_2.edf").symlink_to(eegmat_dir / "Subject00_2.edf")
    said: list[str] = []
    for _ in range(2):  # the second load comes from the cache and still says so
        fs = load_eegmat(folder, None, cache_dir=cache, warn=said.append)
    assert said == ["Subject40_1.edf holds 13.0 s of the 182.0 s its header lists: the file "
                    "was truncated; reading what is there"] * 2
    assert int((fs.y == 0).sum()) == 12  # what is there: 13 s of rest
    with caplog.at_level(logging.WARNING):  # neurofb train: a logged warning
        load_eegmat(folder, None, cache_dir=cache)
    assert "holds 13.0 s of the 182.0 s" in caplog.text
    rc, out, err = _evaluate(capsys, "--model", str(tiny_model_dir(tmp_path)), "--eegmat",
                             str(folder), "--cache", cache, "--json")
    assert rc == 0 and "warning: Subject40_1.edf holds 13.0 s of the 182.0 s" in err
    assert "holds 13.0 s" in json.loads(out)["warnings"][0]


def test_a_subject_missing_a_file_is_named(eegmat_dir, tmp_path):
    from neurofb.training.eegmat import choose_subjects

    folder = small_eegmat(tmp_path, eegmat_dir, (0,))
    (folder / "Subject01_1.edf").symlink_to(eegmat_dir / "Subject01_1.edf")
    said: list[str] = []
    assert choose_subjects(folder, None, warn=said.append) == [0]
    assert len(said) == 1 and "Subject01_2.edf is missing" in said[0]
    assert "subject 1 is left out" in said[0]
    with pytest.raises(DatasetError, match=r"Subject01_2\.edf is missing"):
        choose_subjects(folder, "1")
    with pytest.raises(DatasetError, match=r"Subject01_2\.edf is missing"):
        load_eegmat(folder, [0, 1])
    with pytest.raises(DatasetError, match=r"not in the eegmat folder"):
        choose_subjects(folder, "3")


def test_a_baseline_longer_than_the_rest_is_refused(eegmat_dir, tmp_path, capsys, cache):
    folder = small_eegmat(tmp_path, eegmat_dir, (0, 31))  # 31's rest is 80 s long
    base = ["--eegmat", str(folder), "--cache", cache]
    rc, _, err = _evaluate(capsys, "--model", str(tiny_model_dir(tmp_path)), *base,
                           "--baseline", "100")
    assert rc == 2 and "subject 31" in err and "80 s" in err and "--baseline 78" in err
    rc, _, err = _evaluate(capsys, *base, "--cv", "2", "--baseline", "100", *TINY_CV)
    assert rc == 2 and "subject 31" in err and "80 s" in err


def test_baseline_mode_table_shows_late_rest(eegmat_dir, tmp_path, capsys, cache):
    folder = small_eegmat(tmp_path, eegmat_dir, (0,))
    rc, out, _ = _evaluate(capsys, "--model", str(tiny_model_dir(tmp_path)), "--eegmat",
                           str(folder), "--cache", cache, "--baseline", "60",
                           "--montage", "muse")
    assert rc == 0 and "late rest (after the baseline) vs task" in out
    late = out.split("late rest (after the baseline) vs task")[1]
    assert "muse    model" in late and "drift" in late
