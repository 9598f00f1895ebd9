"""Paths a user gives (docs/safety.md): nothing is overwritten without ``--force``, nothing is ever
written into a command's own input, a missing input is an error (never a fallback), and the
folder an output goes into must exist. Each check runs before anything is opened or created, so a
refused command leaves nothing behind. Real files, the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safety_helpers import DEMO, cli, demo_copy, digest, one_line_error

from neurofb.paths import default_model_dir
from neurofb.recording import export, open_recording

FAST = ("--target", "engagement", "--seconds", "4")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The demo as EDF and FIF, and a synthetic-board recording as a BrainFlow CSV."""
    root = tmp_path_factory.mktemp("inputs")
    demo = open_recording(DEMO)
    out = {"edf": export(demo, "edf", root / "demo.edf"),
           "fif": export(demo, "fif", root / "demo_raw.fif")}
    from neurofb.recording import RecordingWriter
    from neurofb.stream.brainflow import open_board

    board = open_board("synthetic")
    rec = root / "synth"
    board.start()
    try:
        with RecordingWriter(rec, board.info) as w:
            got = 0
            while got < 1000:
                chunk = board.read()
                if chunk is not None:
                    w.write_chunk(chunk)
                    got += chunk.n_samples
    finally:
        board.stop()
    out["csv"] = export(open_recording(rec), "csv", root / "synth.csv")
    return out


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    if src.suffix == ".csv":
        shutil.copyfile(src.with_name(src.stem + ".neurofb.json"),
                        dst.with_name(dst.stem + ".neurofb.json"))
    return dst


def test_trace_never_replaces_an_existing_file_without_force(files, tmp_path, capsys):
    # the case: `stream --trace x.edf` turned an EDF into a 168-byte trace
    edf = _copy(files["edf"], tmp_path)
    before = digest(edf)
    code, _, err = cli(capsys, "stream", "--seconds", "1", "--target", "engagement",
                       "--trace", edf)
    assert code == 2 and digest(edf) == before
    line = one_line_error(err, "stream")
    assert "exists" in line and "--force" in line
    other = tmp_path / "old.csv"
    other.write_text("keep me\n")
    code, _, err = cli(capsys, "replay", DEMO, *FAST, "--trace", other)
    assert code == 2 and other.read_text() == "keep me\n"
    code, out, _ = cli(capsys, "replay", DEMO, *FAST, "--trace", other, "--force")
    assert code == 0 and other.read_text().startswith("t,focus,")  # --force replaces it
    assert f"trace: {other}" in out



def test_a_hard_link_to_a_file_in_an_input_folder_is_that_file(tmp_path, capsys):
    # `ln rec/eeg.bin out.csv; replay rec --trace out.csv --force` cut eeg.bin to the trace header
    rec = demo_copy(tmp_path)
    model = tmp_path / "model"
    shutil.copytree(default_model_dir(), model)
    before = {"rec": digest(rec), "model": digest(model)}
    (tmp_path / "out.csv").hardlink_to(rec / "eeg.bin")
    (tmp_path / "card.csv").hardlink_to(model / "model.json")
    for link in ("out.csv", "card.csv"):
        code, _, err = cli(capsys, "replay", rec, "--seconds", "4", "--model", model,
                           "--trace", tmp_path / link, "--force")
        assert code == 2
        assert "is a hard link to a file in" in one_line_error(err, "replay")
    # the recording named by its meta.json: the folder is read all the same
    for target in (tmp_path / "out.csv", rec / "eeg.bin", rec / "trace.csv"):
        code, _, err = cli(capsys, "replay", rec / "meta.json", *FAST, "--trace", target,
                           "--force")
        assert code == 2 and "which this command reads" in one_line_error(err, "replay")
    assert {"rec": digest(rec), "model": digest(model)} == before
    unrelated = tmp_path / "old.csv"  # a hard link to a file elsewhere is an ordinary file
    unrelated.write_text("old\n")
    (tmp_path / "old-link.csv").hardlink_to(unrelated)
    code, _, _ = cli(capsys, "replay", rec, *FAST, "--trace", unrelated, "--force")
    assert code == 0 and unrelated.read_text().startswith("t,focus,")

@pytest.mark.parametrize("kind", ["edf", "fif", "csv"])
def test_replay_never_writes_its_trace_into_its_input(files, kind, tmp_path, capsys):
    src = _copy(files[kind], tmp_path)
    targets = [src]
    if kind == "csv":  # the sidecar is read too: the CSV became 513 bytes
        targets.append(src.with_name(src.stem + ".neurofb.json"))
    before = {t: digest(t) for t in targets}
    for target in targets:
        code, _, err = cli(capsys, "replay", src, *FAST, "--trace", target, "--force")
        assert code == 2
        assert "never writes into its own input" in one_line_error(err, "replay")
    assert {t: digest(t) for t in targets} == before


def test_replay_never_writes_into_the_recording_folder_or_the_model(tmp_path, capsys):
    rec = demo_copy(tmp_path)
    before = digest(rec)
    for target in (rec / "eeg.bin", rec / "trace.csv", rec / "new.csv"):
        code, _, err = cli(capsys, "replay", rec, *FAST, "--trace", target, "--force")
        assert code == 2 and "never writes into its own input" in one_line_error(err, "replay")
    assert digest(rec) == before
    model = tmp_path / "model"
    shutil.copytree(default_model_dir(), model)
    code, _, err = cli(capsys, "replay", rec, "--seconds", "4", "--model", model,
                       "--trace", model / "trace.csv")
    assert code == 2 and "never writes into its own input" in one_line_error(err, "replay")
    assert not (model / "trace.csv").exists()


def test_playback_file_is_an_input_of_stream(files, tmp_path, capsys):
    src = _copy(files["csv"], tmp_path)
    before = digest(src)
    code, _, err = cli(capsys, "stream", "--board", "playback", "--file", src, "--target",
                       "engagement", "--seconds", "1", "--trace", src, "--force")
    assert code == 2 and "never writes into its own input" in one_line_error(err, "stream")
    assert digest(src) == before


def test_a_refused_stream_leaves_nothing_behind(tmp_path, capsys, _private_home):
    taken = tmp_path / "taken.csv"
    taken.write_text("x\n")
    new_rec = tmp_path / "new-recording"
    code, _, err = cli(capsys, "stream", "--seconds", "1", "--record", new_rec, "--trace", taken)
    assert code == 2 and "exists" in one_line_error(err, "stream")
    assert not new_rec.exists() and taken.read_text() == "x\n"
    assert not (_private_home / "recordings").exists()  # no default recording folder either
    code, _, err = cli(capsys, "stream", "--seconds", "1", "--record", new_rec,
                       "--trace", new_rec / "t.csv")
    assert code == 2 and "recording folder" in one_line_error(err, "stream")
    assert not new_rec.exists()


def test_trace_to_a_folder_or_into_a_missing_folder_is_one_line(tmp_path, capsys):
    code, _, err = cli(capsys, "stream", "--seconds", "1", "--trace", tmp_path)
    assert code == 2 and "is a folder" in one_line_error(err, "stream")
    missing = tmp_path / "no" / "such" / "t.csv"
    code, _, err = cli(capsys, "replay", DEMO, *FAST, "--trace", missing)
    assert code == 2 and "does not exist" in one_line_error(err, "replay")
    assert not (tmp_path / "no").exists()


def test_missing_parent_folders_are_refused_by_every_command_alike(files, tmp_path, capsys):
    """One rule: neurofb creates the file or folder named, never the folders above it."""
    deep = tmp_path / "new" / "deep"
    cases = [
        ("stream", "--seconds", "1", "--target", "engagement", "--record", deep / "rec"),
        ("export", DEMO, "--to", "edf", "--out", deep / "x.edf"),
        ("import", files["edf"], "--out", deep / "rec"),
        ("replay", DEMO, *FAST, "--trace", deep / "t.csv"),
        ("sessions", "--reindex", "--db", deep / "s.sqlite3"),
    ]
    for argv in cases:
        code, _, err = cli(capsys, *argv)
        line = one_line_error(err, argv[0])
        assert code == 2 and "does not exist" in line and "create it first" in line, argv
    assert not (tmp_path / "new").exists()


def test_export_never_writes_into_its_input(files, tmp_path, capsys):
    edf = _copy(files["edf"], tmp_path)
    before = digest(edf)
    code, _, err = cli(capsys, "export", edf, "--to", "edf", "--out", edf, "--force")
    assert code == 2 and "never writes into its own input" in one_line_error(err, "export")
    assert digest(edf) == before
    rec = demo_copy(tmp_path)
    before = digest(rec)
    for out in (rec / "eeg.bin", rec / "x.edf"):
        code, _, err = cli(capsys, "export", rec, "--to", "edf", "--out", out, "--force")
        assert code == 2 and "never writes into its own input" in one_line_error(err, "export")
    code, _, err = cli(capsys, "export", rec, "--to", "bids", "--out", rec / "bids")
    assert code == 2 and "never writes into its own input" in one_line_error(err, "export")
    assert digest(rec) == before
    csv = _copy(files["csv"], tmp_path)
    side = csv.with_name(csv.stem + ".neurofb.json")
    before = digest(side)
    # exporting a CSV beside itself would replace its own sidecar
    code, _, err = cli(capsys, "export", csv, "--to", "csv", "--out", csv, "--force")
    assert code == 2 and digest(side) == before


def test_csv_export_never_replaces_a_sidecar_without_force(files, tmp_path, capsys):
    rec = open_recording(files["csv"])
    out = tmp_path / "session.csv"
    side = tmp_path / "session.neurofb.json"
    side.write_text('{"mine": true}\n')  # someone's file, where the sidecar would go
    code, _, err = cli(capsys, "export", files["csv"], "--to", "csv", "--out", out)
    assert code == 2 and "session.neurofb.json exists" in one_line_error(err, "export")
    assert side.read_text() == '{"mine": true}\n' and not out.exists()
    code, _, _ = cli(capsys, "export", files["csv"], "--to", "csv", "--out", out, "--force")
    assert code == 0 and json.loads(side.read_text())["ch_names"] == list(rec.ch_names)


def test_import_out_must_be_new_and_outside_the_input(files, tmp_path, capsys):
    rec = demo_copy(tmp_path)
    before = digest(rec)
    code, _, err = cli(capsys, "import", files["edf"], "--out", rec, "--no-index")
    assert code == 2 and "already exists" in one_line_error(err, "import")
    assert digest(rec) == before
    code, _, err = cli(capsys, "import", files["edf"], "--out", files["edf"], "--no-index")
    assert code == 2 and "never writes into its own input" in one_line_error(err, "import")
    # nor inside another recording (stream --record alike)
    for argv in (("import", files["edf"], "--out", rec / "sub", "--no-index"),
                 ("stream", "--seconds", "1", "--record", rec / "deep" / "sub")):
        (rec / "deep").mkdir(exist_ok=True)
        code, _, err = cli(capsys, *argv)
        assert code == 2 and f"inside the recording {rec}" in one_line_error(err, argv[0])
        (rec / "deep").rmdir()
    assert digest(rec) == before


def test_model_outputs_are_never_the_model_read(tmp_path, capsys, eegmat_dir):
    model = tmp_path / "model"
    shutil.copytree(default_model_dir(), model)
    before = digest(model)
    code, _, err = cli(capsys, "calibrate", "--model", model, "--recording", DEMO,
                       "--out", model, "--force")
    assert code == 2 and "never writes into its own input" in one_line_error(err, "calibrate")
    code, _, err = cli(capsys, "train", "--eegmat", eegmat_dir, "--init", model, "--out", model,
                       "--overwrite")
    assert code == 2 and "never writes into its own input" in one_line_error(err, "train")
    assert digest(model) == before
    result = tmp_path / "result.json"
    result.write_text("{}")
    code, _, err = cli(capsys, "evaluate", "--eegmat", eegmat_dir, "--subjects", "0",
                       "--out", result)
    assert code == 2 and "exists" in one_line_error(err, "evaluate")
    assert result.read_text() == "{}"
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "state.json").write_text("{}")
    code, _, err = cli(capsys, "train", "--eegmat", eegmat_dir, "--out", tmp_path / "m2",
                       "--checkpoint", checkpoint)
    assert code == 2 and "--resume" in one_line_error(err, "train")
    assert not (tmp_path / "m2").exists()
    # --resume from a checkpoint that is not there (a typo) does not start afresh silently
    code, _, err = cli(capsys, "train", "--eegmat", eegmat_dir, "--out", tmp_path / "m3",
                       "--checkpoint", tmp_path / "ckpt-typo", "--resume")
    assert code == 2 and "no checkpoint to resume in" in one_line_error(err, "train")
    assert not (tmp_path / "m3").exists() and not (tmp_path / "ckpt-typo").exists()


@pytest.mark.parametrize("argv", [
    ("replay", DEMO, "--seconds", "4", "--model", "MISSING"),
    ("stream", "--seconds", "1", "--model", "MISSING"),
    ("stream", "--board", "playback", "--file", "MISSING.csv", "--seconds", "1"),
    ("replay", "MISSING"),
    ("export", "MISSING", "--to", "edf"),
    ("import", "MISSING.edf"),
    ("calibrate", "--model", "MISSING", "--recording", DEMO, "--out", "OUT"),
    ("calibrate", "--recording", "MISSING", "--out", "OUT"),
    ("train", "--eegmat", "MISSING", "--out", "OUT"),
    ("train", "--recordings", str(DEMO), "--init", "MISSING", "--out", "OUT"),
    ("evaluate", "--eegmat", "MISSING"),
    ("sessions", "--data-dir", "MISSING"),
    ("sessions", "--db", "MISSING.sqlite3"),
    ("sessions", "--reindex", "--recordings", "MISSING"),
])  # fmt: skip
def test_a_missing_user_path_is_an_error_never_a_fallback(argv, capsys, tmp_path):
    out_dir, missing = tmp_path / "out", tmp_path / "missing"

    def arg(a: object) -> object:
        if a == "OUT":
            return out_dir
        return str(a).replace("MISSING", str(missing)) if "MISSING" in str(a) else a

    code, out, err = cli(capsys, *map(arg, argv))
    assert code == 2 and out == ""
    line = one_line_error(err, argv[0])
    assert str(missing) in line and ("does not exist" in line or "not found" in line), line
    assert sorted(tmp_path.iterdir()) == []  # nothing created: not the output, not the missing


def test_stream_and_replay_say_which_target_they_used(capsys):
    code, out, _ = cli(capsys, "replay", DEMO, "--seconds", "4")
    assert code == 0 and "with target model:" in out
    code, out, _ = cli(capsys, "stream", "--seconds", "1", "--target", "tbr")
    assert code == 0 and "with target tbr:" in out


@pytest.mark.parametrize("argv", [("sessions",), ("stream", "--seconds", "1")])
def test_a_mistyped_neurofb_home_is_an_error_not_a_new_empty_library(argv, tmp_path, capsys,
                                                                    monkeypatch):
    """NEUROFB_HOME into a folder that does not exist: `sessions` made it, with an empty
    database, and said "no sessions" (as --data-dir, it is made only under a folder that is)."""
    typo = tmp_path / "dat" / "home"
    monkeypatch.setenv("NEUROFB_HOME", str(typo))
    code, _, err = cli(capsys, *argv)
    assert code == 2 and "NEUROFB_HOME" in one_line_error(err, argv[0])
    assert not (tmp_path / "dat").exists()
    monkeypatch.setenv("NEUROFB_HOME", str(tmp_path / "home"))  # under a folder that is: made
    assert cli(capsys, "sessions")[0] == 0 and (tmp_path / "home").is_dir()
