"""``neurofb stream`` end to end on the real synthetic and playback boards."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from board_helpers import record_synthetic_csv

from neurofb.cli import main
from neurofb.recording.trace import read_trace

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brainflow.board_shim import BoardShim

REPO = Path(__file__).resolve().parent.parent


def stream_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "neurofb", "stream", "--target", "engagement", *args]


def check_trace(path: Path) -> list[dict[str, str]]:
    """The trace has the documented columns, increasing t, focus empty or in [0, 1]."""
    rows = read_trace(path)
    assert rows, f"{path} has no rows"
    assert {"t", "focus", "quality"} <= set(rows[0])
    ts = [float(r["t"]) for r in rows]
    assert ts == sorted(ts) and ts[0] >= 0
    for r in rows:
        assert 0.0 <= float(r["quality"]) <= 1.0
        if r["focus"]:
            assert 0.0 <= float(r["focus"]) <= 1.0
        else:
            assert r["reason"], "a gated update says why"
    return rows


def test_stream_runs_for_seconds_with_trace_and_recording(tmp_path):
    trace = tmp_path / "out.csv"
    record = tmp_path / "session"
    res = subprocess.run(
        stream_cmd("--board", "synthetic", "--seconds", "4", "--trace", str(trace),
                   "--record", str(record), "--hop", "0.25"),
        capture_output=True, text=True, timeout=240, cwd=REPO, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    rows = check_trace(trace)
    assert b"\r" not in trace.read_bytes()  # LF line ends, as the recording's own trace.csv
    # Default settings: the synthetic board shows a live focus estimate.
    assert all(r["focus"] for r in rows)
    # Not a TTY: one status line per second, then the summary.
    lines = res.stdout.splitlines()
    assert any("samples/s" in line and "focus" in line for line in lines)
    assert f"trace: {trace} ({len(rows)} rows)" in res.stdout
    assert f"recording: {record}" in res.stdout

    from neurofb.recording import open_recording

    rec = open_recording(record)
    assert rec.info.ch_names == tuple(BoardShim.get_eeg_names(-1))
    assert rec.data.shape[1] > 0
    kinds = [m.kind for m in rec.markers]
    assert kinds[0] == "session_start" and kinds[-1] == "session_end"
    assert rec.meta.get("summary", {}).get("board") == "synthetic"
    # a session that ended as asked is complete, and neither its summary nor the library says
    # otherwise
    assert rec.meta["complete"] is True and rec.meta["interrupted"] is False
    assert "interrupted" not in rec.meta["summary"]["notes"]
    assert rec.meta["target"] == rec.meta["model"] == "engagement"  # a band-power target
    assert rec.meta["model_hash"] is None


def test_a_recording_names_the_focus_model_it_was_scored_with(tmp_path):
    """With the attention model, meta.json says which (folder name, weights' hash), as the app
    records it, so the session library's model column means something."""
    from neurofb.focus.card import read_card
    from neurofb.paths import default_model_dir
    from neurofb.recording import open_recording

    record = tmp_path / "session"
    res = subprocess.run([sys.executable, "-m", "neurofb", "stream", "--seconds", "3",
                          "--record", str(record)], capture_output=True, text=True,
                         timeout=240, cwd=REPO, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    meta = open_recording(record).meta
    assert meta["target"] == "model" and meta["model"] == default_model_dir().name
    assert meta["model_hash"] == read_card(default_model_dir()).weights_sha256


def test_ctrl_c_stops_cleanly_and_keeps_the_trace(tmp_path):
    trace = tmp_path / "out.csv"
    proc = subprocess.Popen(
        stream_cmd("--seconds", "0", "--trace", str(trace), "--hop", "0.25"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if trace.exists() and len(read_trace(trace)) >= 3:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    rows = check_trace(trace)
    assert len(rows) >= 3
    assert f"trace: {trace} ({len(rows)} rows)" in out


def test_playback_streams_to_the_end_of_the_file(tmp_path, capsys):
    csv_path = tmp_path / "synthetic.csv"
    n = record_synthetic_csv(csv_path, 3.0).shape[1]
    trace = tmp_path / "trace.csv"
    code = main(["stream", "--board", "playback", "--file", str(csv_path), "--target",
                 "engagement", "--trace", str(trace), "--window", "1", "--hop", "0.5",
                 "--min-quality", "0"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert f"{n} samples" in out
    rows = check_trace(trace)
    # Updates every 0.5 s once a 1 s window is full, wherever the chunks fell.
    sfreq = BoardShim.get_sampling_rate(-1)
    assert len(rows) == 1 + (n - int(sfreq)) // int(0.5 * sfreq)
    # Quality gating off: every update has a focus value.
    assert all(r["focus"] for r in rows)


def test_unknown_board_is_a_clear_error(capsys):
    assert main(["stream", "--board", "nosuchboard", "--target", "engagement"]) == 2
    err = capsys.readouterr().err
    assert "unknown board 'nosuchboard'" in err and "synthetic" in err and "cyton" in err
    assert "Traceback" not in err


def test_missing_device_is_a_clear_error_and_leaves_no_recording(tmp_path, capsys):
    record = tmp_path / "session"
    code = main(["stream", "--board", "cyton", "--serial-port", "/dev/neurofb-no-such-port",
                 "--timeout", "1", "--target", "engagement", "--record", str(record)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "could not open cyton on /dev/neurofb-no-such-port" in err
    assert not record.exists()


def test_bad_engine_settings_are_clear_errors(capsys):
    assert main(["stream", "--window", "1", "--hop", "2", "--target", "engagement"]) == 2
    assert "--hop must be in [0.01, --window]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["stream", "--line-freq", "55"])
    with pytest.raises(SystemExit):
        main(["stream", "--seconds", "-1"])


def test_data_dir_holds_default_recordings(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.delenv("NEUROFB_HOME")
    code = main(["stream", "--seconds", "1.5", "--target", "engagement", "--record",
                 "--data-dir", str(home)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    folders = list((home / "recordings").iterdir())
    assert len(folders) == 1 and folders[0].name.endswith("synthetic")
    assert f"recording: {folders[0]}" in out


def test_boards_lists_every_board(capsys):
    import json

    from neurofb.boards import board_names

    assert main(["boards", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert sorted(rows) == board_names()
    synth = rows["synthetic"]
    assert synth["sfreq"] == BoardShim.get_sampling_rate(-1)
    assert synth["ch_names"] == BoardShim.get_eeg_names(-1)
    assert rows["playback"]["sfreq"] is None  # its layout is the master board's
    assert main(["boards"]) == 0
    table = capsys.readouterr().out
    assert "muse_s" in table and "cyton" in table
