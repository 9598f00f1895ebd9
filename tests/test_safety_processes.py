"""Real processes, real filesystems (docs/safety.md): every recording is in the library as soon as
it ends, and one a ``kill -9`` interrupted is finalised and indexed by the next start of any
command; a read-only data folder can be listed; a full disk leaves nothing half-made behind;
Ctrl-C and SIGTERM stop cleanly with a summary that matches what was written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safety_helpers import DEMO, REPO, fill, read_only, run, small_fs

from neurofb.library import SessionLibrary
from neurofb.library.index import default_path
from neurofb.recording import open_recording, read_meta
from neurofb.recording.trace import read_trace, trace_stats

ENGAGEMENT = ("--target", "engagement")


def _env(home: Path) -> dict[str, str]:
    return {"NEUROFB_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}


def _killed_recording(home: Path, name: str = "crashed", *, path: Path | None = None) -> Path:
    """A real ``neurofb stream --record`` killed with SIGKILL after about a second on disk."""
    path = path if path is not None else home / "recordings" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurofb", "stream", "--record", str(path), "--seconds", "60",
         *ENGAGEMENT], cwd=REPO, env={**os.environ, **_env(home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            eeg = path / "eeg.bin"
            if eeg.exists() and eeg.stat().st_size > 250 * 17 * 8:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()  # SIGKILL: no cleanup runs
        proc.wait()
    assert (path / ".open").exists() and not read_meta(path)["complete"]
    return path


def _indexed(home: Path, path: Path) -> bool:
    db = default_path(home)
    if not db.exists():
        return False
    with SessionLibrary(db) as lib:
        return lib.get_by_recording(path) is not None


@pytest.mark.parametrize("argv", [
    ("stream", "--seconds", "0.5", *ENGAGEMENT),
    ("sessions",),
    ("sessions", "--reindex"),
    ("replay", str(DEMO), "--seconds", "2", *ENGAGEMENT),
    ("app", "--no-connect", "--quit-after", "3"),
], ids=["stream", "sessions", "reindex", "replay", "app"])  # fmt: skip
def test_every_start_finalises_and_indexes_a_killed_recording(argv, tmp_path):
    home = tmp_path / "home"
    path = _killed_recording(home)
    res = run(*argv, env=_env(home), timeout=180)
    assert res.returncode == 0, res.stderr
    meta = read_meta(path)
    assert meta["complete"] and meta["interrupted"] and not (path / ".open").exists()
    assert meta["n_samples"] == open_recording(path).n_samples > 250
    assert _indexed(home, path)


def test_a_killed_recording_outside_the_data_folder_is_recovered_too(tmp_path):
    """``stream --record /elsewhere/x`` killed: the next start finds it from the note the
    recording left in the data folder, finalises and indexes it. The notes stay: a session
    database rebuilt from the files finds the recordings kept elsewhere by them."""
    home = tmp_path / "home"
    path = _killed_recording(home, path=tmp_path / "usb-stick" / "session")
    notes = home / "recordings" / ".elsewhere"
    assert len(list(notes.iterdir())) == 1
    res = run("sessions", env=_env(home))
    assert res.returncode == 0, res.stderr
    meta = read_meta(path)
    assert meta["complete"] and meta["interrupted"] and not (path / ".open").exists()
    assert _indexed(home, path)
    res = run("stream", "--seconds", "1", "--record", tmp_path / "usb-stick" / "next",
              *ENGAGEMENT, env=_env(home))
    assert res.returncode == 0, res.stderr
    assert _indexed(home, tmp_path / "usb-stick" / "next")
    # a rebuild from the files lost both (the notes were dropped at close); now it finds them
    (home / "sessions.sqlite3").write_bytes(b"not a database" * 100)
    res = run("sessions", "--reindex", env=_env(home))
    assert res.returncode == 0, res.stderr
    assert "2 of them kept elsewhere" in res.stdout
    assert _indexed(home, path) and _indexed(home, tmp_path / "usb-stick" / "next")
    # a drive unplugged keeps its notes, its mount point left empty too (a rebuild meanwhile
    # cannot read it; one after can)
    usb = tmp_path / "usb-stick"
    usb.rename(tmp_path / "unplugged")
    usb.mkdir()
    res = run("stream", "--seconds", "1", *ENGAGEMENT, env=_env(home))
    assert res.returncode == 0, res.stderr
    res = run("sessions", "--reindex", env=_env(home))
    assert res.returncode == 0, res.stderr
    assert len(list(notes.iterdir())) == 2
    usb.rmdir()
    (tmp_path / "unplugged").rename(usb)
    (home / "sessions.sqlite3").write_bytes(b"not a database" * 100)
    res = run("sessions", "--reindex", env=_env(home))
    assert res.returncode == 0, res.stderr
    assert _indexed(home, path) and _indexed(home, tmp_path / "usb-stick" / "next")


def test_stream_record_is_in_the_library_when_it_ends(tmp_path):
    home = tmp_path / "home"
    res = run("stream", "--seconds", "2", "--record", *ENGAGEMENT, env=_env(home))
    assert res.returncode == 0, res.stderr
    assert "in the library" in res.stdout
    listed = run("sessions", "--json", env=_env(home))
    assert listed.returncode == 0, listed.stderr
    (session,) = json.loads(listed.stdout)
    (folder,) = (home / "recordings").iterdir()
    assert session["recording_path"] == str(folder.resolve())
    assert session["duration_s"] == pytest.approx(open_recording(folder).duration_s)
    # BrainFlow's synthetic board is no one's EEG: the session says so (as the app's do)
    assert session["notes"].startswith("recorded from BrainFlow's synthetic board")


def test_a_read_only_data_folder_is_listed_and_nothing_is_created(tmp_path):
    home = tmp_path / "home"
    assert run("stream", "--seconds", "1.5", "--record", *ENGAGEMENT,
               env=_env(home)).returncode == 0
    _killed_recording(home, "interrupted")  # recovery cannot finalise it there: said, not fatal
    before = sorted(p.relative_to(home) for p in home.rglob("*"))
    with read_only(home):
        listed = run("sessions", "--json", env=_env(home))
        assert listed.returncode == 0, listed.stderr
        assert len(json.loads(listed.stdout)) == 1
        assert "read-only" in listed.stderr and "Traceback" not in listed.stderr
        table = run("sessions", env=_env(home))
        assert table.returncode == 0 and "stream" in table.stdout
        # writing there is refused in one line, before anything starts
        for argv in (("stream", "--seconds", "1", *ENGAGEMENT, "--trace", home / "t.csv"),
                     ("export", DEMO, "--to", "edf", "--out", home / "d.edf"),
                     ("sessions", "--reindex")):
            res = run(*argv, env=_env(home))
            assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
            assert len(res.stderr.strip().splitlines()) <= 2  # a warning at most, then the error
            assert "read-only" in res.stderr.lower() or "readonly" in res.stderr.lower()
        assert sorted(p.relative_to(home) for p in home.rglob("*")) == before


def test_a_full_disk_leaves_no_temporary_files_or_empty_folders(tmp_path):
    disk = tmp_path / "disk"
    home = tmp_path / "home"
    with small_fs(disk, "200k"):  # one 4-s recording (136 KB of samples) fits, two do not
        results = [run("stream", "--seconds", "4", "--record", disk / f"rec{i}", *ENGAGEMENT,
                       env=_env(home)) for i in range(2)]
        assert results[1].returncode == 0 and "No space left" in results[1].stdout  # warned
        fill(disk)
        results.append(run("stream", "--seconds", "2", "--record", disk / "rec2", *ENGAGEMENT,
                           env=_env(home)))
        for res in results:
            assert "Traceback" not in res.stderr, res.stderr
        assert results[-1].returncode == 2  # nothing could be written: refused, one line
        assert "rec2" in results[-1].stderr
        leftovers = [p for p in disk.rglob("*") if ".tmp-" in p.name]
        assert leftovers == []
        for folder in (p for p in disk.iterdir() if p.is_dir()):
            assert (folder / "eeg.bin").stat().st_size > 0, f"{folder} holds no sample"
            open_recording(folder)  # what was written stays readable
            # closed at once, and saying why it stopped (the room .open kept for meta.json)
            assert read_meta(folder)["complete"] and not (folder / ".open").exists()
        assert "No space left" in read_meta(disk / "rec1")["error"]
        assert not (disk / "rec2").exists()


def test_a_recording_that_never_wrote_a_sample_is_not_kept(tmp_path):
    """Room for the folder, meta.json, the trace's header and what .open keeps for the last
    meta.json (tmpfs pages), but not for one sample."""
    from neurofb.recording.writer import RESERVE_BYTES

    disk = tmp_path / "disk"
    with small_fs(disk, "400k"):
        fill(disk, leave=3 * 4096 + RESERVE_BYTES)
        res = run("stream", "--seconds", "2", "--record", disk / "rec", *ENGAGEMENT,
                  env=_env(tmp_path / "home"))
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        assert "no sample had reached the disk" in res.stderr
        assert "nothing was kept" in res.stdout and not (disk / "rec").exists()
        assert [p.name for p in disk.iterdir()] == ["filler"]


def _replay(trace: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "neurofb", "replay", str(DEMO), "--speed", "5", "--trace",
         str(trace), *extra], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "NEUROFB_HOME": str(trace.parent / "home")})  # fmt: skip


def _wait_rows(proc: subprocess.Popen, trace: Path, rows: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if trace.exists() and len(read_trace(trace)) >= rows:
            return
        time.sleep(0.05)
    raise AssertionError(f"the replay did not write {rows} rows")


@pytest.mark.parametrize(("sig", "times"), [(signal.SIGINT, 1), (signal.SIGTERM, 1),
                                             (signal.SIGHUP, 1), (signal.SIGINT, 3)],
                         ids=["ctrl-c", "term", "hangup", "3x"])
def test_interrupted_replay_summary_matches_the_trace(sig, times, tmp_path):
    trace = tmp_path / "trace.csv"
    proc = _replay(trace)
    try:
        _wait_rows(proc, trace, 20)
        for _ in range(times):
            proc.send_signal(sig)
            time.sleep(0.02)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err
    written = trace_stats(trace)
    assert written.rows >= 20
    assert f": {written.rows} updates ({written.gated} gated)" in out and "interrupted" in out
    assert f"trace: {trace} ({written.rows} rows)" in out
    assert f"mean focus {written.mean_focus:.3f}" in out


def test_interrupted_stream_summary_matches_the_trace(tmp_path):
    trace = tmp_path / "trace.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurofb", "stream", "--trace", str(trace), "--hop", "0.1",
         "--window", "0.5", *ENGAGEMENT], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NEUROFB_HOME": str(tmp_path / "home")})  # fmt: skip
    try:
        _wait_rows(proc, trace, 10)
        for _ in range(3):
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.02)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err, err
    written = trace_stats(trace)
    assert f"{written.rows} updates ({written.gated} gated)" in out


@pytest.mark.parametrize(("fmt", "board"), [("edf", ()), ("bdf", ()), ("fif", ()),
                                          ("csv", ("--board", "explore_plus_32_chan"))])
def test_an_export_that_fills_the_disk_leaves_nothing_half_written(fmt, board, tmp_path):
    """The demo (1.7 MB as EDF) does not fit a 300 KB disk: the export fails with one line
    naming the output, and leaves no file — neither a partial one nor a broken old one."""
    disk = tmp_path / "disk"
    with small_fs(disk, "300k"):
        out = disk / f"demo.{fmt}"
        res = run("export", DEMO, "--to", fmt, "--out", out, *board, env=_env(tmp_path / "home"))
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert str(out) in res.stderr and "space" in res.stderr.lower(), res.stderr
        assert sorted(disk.iterdir()) == []  # no partial file, no sidecar, no staging folder
        out.write_text("an older export\n")
        res = run("export", DEMO, "--to", fmt, "--out", out, "--force", *board,
                  env=_env(tmp_path / "home"))
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert out.read_text() == "an older export\n"
        assert sorted(disk.iterdir()) == [out]


def test_closing_the_terminal_closes_the_recording(tmp_path):
    """SIGHUP (the terminal window closed) stops a recording stream like Ctrl-C: the recording
    is finalised, complete and in the library."""
    home = tmp_path / "home"
    path = tmp_path / "hangup"
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurofb", "stream", "--record", str(path), "--seconds", "60",
         *ENGAGEMENT], cwd=REPO, env={**os.environ, **_env(home)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                (path / "eeg.bin").exists() and (path / "eeg.bin").stat().st_size > 40_000):
            time.sleep(0.05)
        proc.send_signal(signal.SIGHUP)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err, err
    meta = read_meta(path)
    assert meta["complete"] is True and not (path / ".open").exists()
    listed = run("sessions", "--json", env=_env(home))
    assert [s["recording_path"] for s in json.loads(listed.stdout)] == [str(path.resolve())]


class _Opened:
    closed = False

    def close(self):
        self.closed = True


def test_a_ctrl_c_that_start_up_swallowed_still_stops_the_command():
    """ONNX Runtime can turn a Ctrl-C that lands while it creates a session into its own error,
    which the model fallback took for a misfit, so the stream ran on: a real SIGINT here,
    swallowed as that would, still ends start-up with KeyboardInterrupt, its stream closed."""
    import os
    import signal

    from neurofb.commands.interrupts import open_watching_interrupts

    opened = _Opened()

    def start_up():
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs as this returns
        except KeyboardInterrupt:
            pass  # what the extension and the fallback did with it
        return opened

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        open_watching_interrupts(start_up)
    assert opened.closed
    assert signal.getsignal(signal.SIGINT) is before
    calm = _Opened()
    assert open_watching_interrupts(lambda: calm) is calm and not calm.closed
