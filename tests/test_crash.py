"""Crash safety with real processes: ``kill -9`` a recording from the synthetic board mid-stream
and find everything up to the last second on disk; a real write failure (the kernel's file size
limit, EFBIG) stops the recording with a clear message while the session goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np

from neurofb.recording import finalise_interrupted, find_interrupted, open_recording, read_meta

REPO = Path(__file__).resolve().parent.parent

# Records the real synthetic board; prints "<samples accepted> <last timestamp>" after each chunk.
RECORDER = textwrap.dedent(
    """
    import sys, time
    from neurofb.recording import RecordingWriter
    from neurofb.stream.brainflow import open_board

    source = open_board("synthetic")
    writer = RecordingWriter(sys.argv[1], source.info, meta={"user": "crash-test"})
    source.start()
    n = 0
    while True:
        chunk = source.read()
        if chunk is not None:
            writer.write_chunk(chunk)
            n += chunk.n_samples
            print(n, repr(float(chunk.timestamps[-1])), flush=True)
        time.sleep(0.05)
    """
)

# Records under a file size limit: writes fail for real with EFBIG; the session must go on.
LIMITED = textwrap.dedent(
    """
    import json, resource, signal, sys, time
    from neurofb.recording import RecordingWriter
    from neurofb.stream.brainflow import open_board
    from neurofb.types import Marker

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    source = open_board("synthetic")
    reported = []
    writer = RecordingWriter(sys.argv[1], source.info, on_error=reported.append)
    source.start()
    accepted, after_error, deadline = 0, 0, time.monotonic() + 60
    while time.monotonic() < deadline:
        chunk = source.read()
        if chunk is not None:
            writer.write_chunk(chunk)
            writer.write_marker(Marker(accepted / 250, "note", "still here"))
            accepted += chunk.n_samples
            if writer.error is not None:
                after_error += chunk.n_samples
                if after_error >= 250:
                    break
        time.sleep(0.05)
    writer.close(summary={"ok": True})
    source.stop()
    print(json.dumps({"error": writer.error, "reported": reported, "accepted": accepted,
                      "after_error": after_error}))
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _row_bytes(path: Path) -> int:
    return (len(read_meta(path)["ch_names"]) + 1) * 8


def _kill_after(proc: subprocess.Popen, path: Path, *, seconds: float) -> float:
    """``kill -9`` the recording process once ``seconds`` of samples are on disk; kill time."""
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            eeg = path / "eeg.bin"
            if eeg.exists():  # meta.json is written before eeg.bin is created
                need = seconds * read_meta(path)["sfreq"] * _row_bytes(path)
                if eeg.stat().st_size >= need:
                    break
            time.sleep(0.1)
        assert proc.poll() is None, f"the recording process died: {proc.stderr.read()}"
        proc.send_signal(signal.SIGKILL)
        return time.time()
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_kill_9_loses_at_most_the_last_second(tmp_path):
    root = tmp_path / "recordings"
    path = root / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-c", RECORDER, str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    killed_at = _kill_after(proc, path, seconds=4.0)
    reader.join(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    accepted, last_stamp = lines[-1].split()
    accepted, last_stamp = int(accepted), float(last_stamp)

    assert (path / ".open").exists()
    rec = open_recording(path)  # readable as it is, before any repair
    sfreq = rec.sfreq
    assert rec.duration_s >= 4.0
    # Everything the recorder had accepted up to the last sync is on disk: the 0.5 s flush
    # interval, plus the sync time of a disk that a loaded CI machine shares (1.5 s seen) ...
    missing = accepted - rec.n_samples
    assert missing <= 2.5 * sfreq, f"{missing / sfreq:.2f} s missing"
    # ... and nothing it had not accepted (at most the chunk it was printing when killed).
    assert rec.n_samples <= accepted + 0.5 * sfreq
    # In board time: the newest sample on disk is at most ~1 s older than the kill (generous
    # slack for a loaded machine; the synthetic board stamps samples with wall-clock time).
    assert killed_at - rec.timestamps[-1] < 3.0
    assert last_stamp >= rec.timestamps[-1]
    assert np.all(np.diff(rec.timestamps) >= 0)

    assert find_interrupted(root) == [path]
    meta = finalise_interrupted(path)
    assert meta["interrupted"] is True and meta["n_samples"] == rec.n_samples
    assert meta["user"] == "crash-test" and not (path / ".open").exists()
    assert find_interrupted(root) == []
    again = open_recording(path)
    assert np.array_equal(again.data, rec.data) and again.warnings == []


def test_write_failure_stops_recording_and_the_session_goes_on(tmp_path):
    path = tmp_path / "limited"
    limit = 100_000  # bytes: about 3 s of the synthetic board's 16 channels at 250 Hz
    done = subprocess.run(
        [sys.executable, "-c", LIMITED, str(path), str(limit)],
        capture_output=True, text=True, env=_env(), cwd=REPO, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["error"] and "recording stopped" in out["error"]
    assert "eeg.bin" in out["error"] and "File too large" in out["error"]
    assert out["reported"] == [out["error"]]
    assert out["after_error"] >= 250  # the stream kept going after the failure
    assert "recording stopped" in done.stderr  # logged, not raised

    rec = open_recording(path)
    row = _row_bytes(path)
    assert 0 < rec.n_samples <= limit // row
    assert rec.n_samples < out["accepted"]
    assert np.all(np.diff(rec.timestamps) > 0)
    meta = rec.meta
    assert meta["complete"] is True and meta["error"] == out["error"]
    assert meta["summary"] == {"ok": True} and meta["n_samples"] == rec.n_samples
    assert (path / "eeg.bin").stat().st_size == rec.n_samples * row  # torn row cut at close


def test_kill_9_of_neurofb_stream_record(tmp_path):
    """The CLI route: ``neurofb stream --record`` killed mid-session keeps all but ~1 s."""
    root = tmp_path / "recordings"
    root.mkdir()  # a --record PATH goes into a folder that exists (docs/safety.md)
    path = root / "cli"
    env = _env()
    env["NEUROFB_HOME"] = str(tmp_path / "home")
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurofb", "stream", "--board", "synthetic", "--record",
         str(path), "--seconds", "60", "--target", "engagement"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    killed_at = _kill_after(proc, path, seconds=4.0)
    rec = open_recording(path)
    # The synthetic board stamps samples with wall-clock time: the samples on disk cover the
    # stream from its first sample to within ~1 s of the kill (generous slack, loaded machine).
    span = killed_at - rec.timestamps[0]
    assert rec.duration_s >= 4.0
    assert span - rec.duration_s < 2.0, f"{span - rec.duration_s:.2f} s missing"
    assert [m.kind for m in rec.markers][:1] == ["session_start"]
    assert read_meta(path)["command"] == "neurofb stream"
    assert find_interrupted(root) == [path]
    meta = finalise_interrupted(path)
    assert meta["interrupted"] is True and meta["n_samples"] == rec.n_samples
