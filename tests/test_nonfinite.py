"""Non-finite samples survive every export and import (docs/safety.md), and a file cut short is
reported: a recording holding a dropped burst (NaN) and an overflow (inf) goes out as EDF, BDF,
FIF, BrainFlow CSV and BIDS and comes back with NaN at exactly the same samples; a failed BIDS
export leaves no partial dataset; a truncated eeg.bin or BDF is reported without ``-v``."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import mne
import numpy as np
import pytest
from safety_helpers import DEMO, REPO, cli, demo_copy, digest, one_line_error

from neurofb.boards import board_layout
from neurofb.recording import RecordingWriter, export, open_recording
from neurofb.recording.mne_files import NONFINITE, NONFINITE_FILL
from neurofb.types import Chunk, SourceInfo

SFREQ = 250.0


@pytest.fixture(scope="module")
def holed(tmp_path_factory) -> Path:
    """A synthetic-board-shaped recording (real EEG from the demo) with NaN in 500 samples of
    one channel and +inf on every channel for 10 samples."""
    demo = open_recording(DEMO)
    names = board_layout("synthetic").eeg_names
    n = 7500
    data = np.asarray(demo.data[: len(names), :n]).copy()
    data[3, 1000:1500] = np.nan
    data[:, 3000:3010] = np.inf
    info = SourceInfo(tuple(names), SFREQ, "synthetic")
    path = tmp_path_factory.mktemp("holed") / "rec"
    with RecordingWriter(path, info, meta={"user": "ann"}) as w:
        w.write_chunk(Chunk(data, 1.7e9 + np.arange(n) / SFREQ, info.ch_names, SFREQ))
    return path


def _mask(path: Path) -> np.ndarray:
    return ~np.isfinite(np.asarray(open_recording(path).data))


@pytest.mark.parametrize(("fmt", "name"), [("edf", "x.edf"), ("bdf", "x.bdf"),
                                           ("fif", "x_raw.fif"), ("csv", "x.csv")])
def test_nonfinite_samples_survive_export_and_import(holed, fmt, name, tmp_path, capsys):
    want = _mask(holed)
    assert want.sum() == 500 + 10 * want.shape[0]
    out = tmp_path / name
    code, _, err = cli(capsys, "export", holed, "--to", fmt, "--out", out)
    assert code == 0, err
    back = open_recording(out)  # neurofb reads its own file back
    got = np.asarray(back.data)
    assert np.array_equal(np.isnan(got), want)
    orig = np.asarray(open_recording(holed).data)
    step = {"edf": 2 * np.ptp(orig[np.isfinite(orig)]) / 65534, "bdf": 1e-3}.get(fmt, 1e-6)
    assert np.nanmax(np.abs(got - orig)[~want]) <= step
    code, _, err = cli(capsys, "import", out, "--out", tmp_path / "imported", "--no-index")
    assert code == 0, err
    assert np.array_equal(_mask(tmp_path / "imported"), want)


@pytest.mark.parametrize("fmt", ["edf", "bdf"])
def test_edf_and_bdf_hold_the_fill_value_under_a_bad_annotation(holed, fmt, tmp_path):
    out = export(open_recording(holed), fmt, tmp_path / f"x.{fmt}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = mne.io.read_raw(out, preload=True, verbose="error")  # what other software sees
    bad = [(round(a.get("onset") * SFREQ), round(a.get("duration") * SFREQ),
            tuple(a.get("ch_names", ())))
           for a in raw.annotations if a["description"] == NONFINITE]  # fmt: skip
    assert sorted(bad) == [(1000, 500, (raw.ch_names[3],)), (3000, 10, ())]
    x = raw.get_data() * 1e6
    assert np.allclose(x[3, 1000:1500], NONFINITE_FILL, atol=1e-2)
    assert np.allclose(x[:, 3000:3010], NONFINITE_FILL, atol=1e-2)


def test_bids_export_of_a_recording_with_nonfinite_samples(holed, tmp_path, capsys):
    import mne_bids

    root = tmp_path / "bids"
    code, _, err = cli(capsys, "export", holed, "--to", "bids", "--out", root)
    assert code == 0, err
    (edf,) = root.rglob("*_eeg.edf")
    assert np.array_equal(_mask(edf), _mask(holed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(edf), verbose="error")
    assert NONFINITE in set(raw.annotations.description)


def _limited(limit: int):
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return setup


def test_failed_bids_export_leaves_no_partial_dataset(holed, tmp_path):
    """A real write failure (the kernel's file size limit) half-way through mne-bids."""
    env = {**os.environ, "NEUROFB_HOME": str(tmp_path / "home")}

    def export_bids(root: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "neurofb", "export", str(holed), "--to", "bids", "--out",
             str(root)], capture_output=True, text=True, cwd=REPO, env=env,
            preexec_fn=_limited(64 * 1024), timeout=120)  # fmt: skip

    new = tmp_path / "new"
    res = export_bids(new)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert not new.exists()
    existing = tmp_path / "existing"
    small = open_recording(DEMO)
    export(small, "bids", existing)  # a dataset with one run already
    before = digest(existing)
    res = export_bids(existing)
    assert res.returncode == 2, res.stderr
    assert digest(existing) == before


def test_truncated_eeg_bin_is_reported_without_verbose(tmp_path, capsys):
    rec = demo_copy(tmp_path)
    os.truncate(rec / "eeg.bin", 1_000_003)  # the cut: 50 s of 179.5 s, a torn row
    code, out, err = cli(capsys, "replay", rec, "--target", "engagement")
    assert code == 0
    assert "warning:" in err and "truncated" in err
    summary = out.splitlines()
    assert any(line.startswith("warning:") and "truncated" in line for line in summary)
    assert "(50.0 of 179.5 s)" in out


def test_bdf_cut_short_is_reported(tmp_path, capsys):
    bdf = export(open_recording(DEMO), "bdf", tmp_path / "demo.bdf")
    size = bdf.stat().st_size
    with open(bdf, "r+b") as fh:
        fh.truncate(int(size * 0.27))
    code, out, err = cli(capsys, "replay", bdf, "--target", "engagement")
    assert code == 0
    assert "truncated" in err and "truncated" in out
    assert "of the 180.0 s its header lists" in out


def test_a_fif_cut_short_mid_data_replays_what_is_there_and_says_it_stopped(tmp_path, capsys):
    """Its header promises more than the file holds: the summary's first line said the
    header's length as if all of it had been replayed."""
    fif = export(open_recording(DEMO), "fif", tmp_path / "demo.fif")
    size = fif.stat().st_size
    with open(fif, "r+b") as fh:
        fh.truncate(int(size * 0.7))
    code, out, err = cli(capsys, "replay", fif, "--speed", "max", "--target", "engagement")
    assert code == 0 and "Traceback" not in err
    first = out.splitlines()[0]
    assert first.endswith("— stopped early: see the warning below")
    assert "warning: the replay stopped at" in out


def test_timestamps_column_that_is_not_a_clock_is_refused_in_one_line(tmp_path, capsys):
    rec = demo_copy(tmp_path)
    raw = bytearray((rec / "eeg.bin").read_bytes())
    row = 20 * 4
    raw[row * 30000 : row * 30000 + 4] = np.array([np.nan], "<f4").tobytes()
    (rec / "eeg.bin").write_bytes(bytes(raw))
    code, _, err = cli(capsys, "replay", rec)
    assert code == 2 and "not a clock" in one_line_error(err, "replay")
    # a column running backwards by a sample at a time (no single big jump back)
    rows = np.frombuffer(bytes(raw), "<f4").reshape(-1, 20).copy()
    rows[30000, 0] = rows[29999, 0]
    rows[:, 0] = rows[::-1, 0]
    (rec / "eeg.bin").write_bytes(rows.tobytes())
    code, _, err = cli(capsys, "replay", rec)
    assert code == 2 and "runs backwards" in one_line_error(err, "replay")


def test_calibration_windows_leave_out_missing_samples(tmp_path):
    """A calibration recording with a dropped burst trains on its intact windows (no NaN
    reaches the model or the personal head)."""
    from neurofb.training.recordings import recording_windows

    demo = open_recording(DEMO)
    rec = demo_copy(tmp_path)
    rows = np.fromfile(rec / "eeg.bin", dtype="<f4").reshape(demo.n_samples, -1)
    rows[5000:5500, 4] = np.nan  # 2 s of one channel in the first rest block
    rows.tofile(rec / "eeg.bin")
    whole = recording_windows(demo)
    holed = recording_windows(open_recording(rec))
    assert np.isfinite(holed.X).all()
    lost = len(whole) - len(holed)
    assert 2 <= lost <= 5  # the windows (2 s, 1 s hop) that overlap the 2 s gap
    kept = {round(t, 3) for t in holed.t}
    assert kept <= {round(t, 3) for t in whole.t}
    assert not any(t < 22.0 and t + 2.0 > 20.0 for t in holed.t)  # none overlaps 20-22 s


def test_an_absurd_sample_is_gated_quietly_and_refused_by_edf_in_words(tmp_path, capsys):
    """One finite 1e308 µV sample: the replay gates its windows without numpy's overflow
    warnings (file:line and source) on the terminal, and EDF says why it cannot hold it."""
    rec = tmp_path / "big"
    demo = open_recording(DEMO)
    data = np.array(demo.data, dtype=np.float64)
    data[1, 1000] = 1e308
    info = SourceInfo(demo.ch_names, demo.sfreq, "test", live=False)
    with RecordingWriter(rec, info, dtype="float64") as w:
        w.write_chunk(Chunk(data, np.arange(data.shape[1]) / demo.sfreq, demo.ch_names,
                            demo.sfreq))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # any numpy warning fails the test
        code, _, err = cli(capsys, "replay", rec, "--speed", "max", "--target", "engagement",
                             "--trace", tmp_path / "t.csv")
    assert code == 0 and "RuntimeWarning" not in err, err
    gated = [r for r in csv_rows(tmp_path / "t.csv") if r["focus"] == ""]
    assert gated and all(float(r["t"]) >= 1000 / demo.sfreq for r in gated)
    code, _, err = cli(capsys, "export", rec, "--to", "edf", "--out", tmp_path / "big.edf")
    line = one_line_error(err, "export")
    assert code == 2 and "values up to 1e+308 µV" in line and "Export FIF instead" in line
    assert not (tmp_path / "big.edf").exists()


def csv_rows(path):
    import csv

    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
