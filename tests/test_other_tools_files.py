"""Files of other tools: XDF (LabRecorder), OpenBCI GUI raw text, BrainFlow CSV without a board,
Mind Monitor and muselsl CSV — read with their markers, replayed with focus, bad ones refused."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from neurofb.cli import main
from neurofb.errors import RecordingError
from neurofb.recording import formats
from neurofb.recording.folder import read_folder
from neurofb.stream.assemble import replay
from neurofb.types import Marker
from tests.xdf_writer import XdfStream, write_xdf

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
XDF_DIR = SHARED / "xdf"
OPENBCI_DIR = SHARED / "openbci"
OPENBCI_V5 = OPENBCI_DIR / "OpenBCI_GUI-v5-blinks-jawClench-alpha.txt"
OPENBCI_OLD = OPENBCI_DIR / "OpenBCI-sampleData-1-blinks-jawClench-alpha.txt"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not found (shared data)")
    return path


@pytest.fixture(scope="module")
def demo():
    from neurofb import paths

    return formats.open_recording(paths.shipped_recordings_dir() / "demo-eegmat")


# -- XDF ----------------------------------------------------------------------------------------


def test_reference_xdf_files_import(tmp_path):
    minimal = formats.read_file(_need(XDF_DIR / "minimal.xdf"))
    assert minimal.info.sfreq == 10.0 and minimal.data.shape == (3, 9)
    assert [m.label for m in minimal.markers][1:3] == ["Hello", "World"]
    resets = formats.read_file(XDF_DIR / "clock_resets.xdf")
    assert resets.info.board == "BioSemi" and resets.data.shape == (8, 27815)
    assert len(resets.markers) > 100  # the marker stream, on the EEG's clock, across its gaps
    assert all(0 <= m.t <= resets.duration_s for m in resets.markers)
    assert any("gaps" in w for w in resets.warnings)
    with pytest.raises(RecordingError, match=r"no EEG stream.*--stream"):
        formats.read_file(XDF_DIR / "empty_streams.xdf")
    with pytest.raises(RecordingError, match="no stream named 'nope'"):
        formats.read_file(XDF_DIR / "minimal.xdf", stream="nope")


def _xdf_of(rec, path: Path, *, t0: float = 1000.0, unit: str = "microvolts",
            scale: float = 1.0, markers=()) -> Path:
    """The demo recording as LabRecorder would write it, with a marker stream."""
    stamps = t0 + np.arange(rec.n_samples) / rec.sfreq
    eeg = XdfStream("demo-EEG", "EEG", sfreq=rec.sfreq, channel_format="double64", stamps=stamps,
                    data=np.asarray(rec.data).T * scale, labels=rec.ch_names,
                    units=[unit] * len(rec.ch_names) if unit else (),
                    types=["EEG"] * len(rec.ch_names))
    acc = XdfStream("demo-ACC", "ACC", sfreq=25.0, channel_format="float32",
                    stamps=t0 + np.arange(10) / 25.0, data=np.zeros((10, 3)))
    mk = XdfStream("stim", "Markers", sfreq=0.0, channel_format="string",
                   stamps=[t0 + t for t, _ in markers], strings=[s for _, s in markers])
    return write_xdf(path, [acc, eeg, mk])


def test_generated_xdf_imports_with_markers_and_replays_like_the_original(demo, tmp_path):
    marks = [(3.0, "block_start:rest"), (10.5, "Stimulus/S  1"), (20.0, "reward:=3.0"),
             (-5.0, "before the EEG")]
    path = _xdf_of(demo, tmp_path / "demo.xdf", markers=marks)
    rec = formats.read_file(path)
    assert rec.ch_names == demo.ch_names and rec.info.sfreq == demo.sfreq
    np.testing.assert_array_equal(rec.data, demo.data)
    got = [(round(m.t, 6), m.kind, m.label, m.value) for m in rec.markers]
    assert got == [(3.0, "block_start", "rest", None), (10.5, "note", "Stimulus/S  1", None),
                   (20.0, "reward", "", 3.0)]
    assert any("outside" in w for w in rec.warnings)
    # the file in volts reads back in µV (the unit comes from the file)
    volts = formats.read_file(_xdf_of(demo, tmp_path / "v.xdf", unit="volts", scale=1e-6))
    np.testing.assert_allclose(volts.data, demo.data, rtol=1e-9, atol=1e-9)
    # import (markers into markers.jsonl) and replay give the trace of the original
    folder = formats.import_file(path, tmp_path / "imported")
    back = read_folder(folder)
    assert [m.kind for m in back.markers] == ["block_start", "note", "reward"]
    short = dict(seconds=20.0, target="engagement")
    ours = replay(folder, **short)
    theirs = replay(demo, **short)
    assert [u.focus for u in ours] == [u.focus for u in theirs]


def test_xdf_without_units_is_guessed_aloud_or_taken_as_told(demo, tmp_path):
    path = _xdf_of(demo, tmp_path / "nounit.xdf", unit="", scale=1e-6)  # volts, unlabelled
    guessed = formats.read_file(path)
    np.testing.assert_allclose(guessed.data, demo.data, rtol=1e-9, atol=1e-9)
    assert any("gives no unit" in w and "read as V" in w for w in guessed.warnings)
    told = formats.read_file(path, unit="uV")  # the user says µV: taken as told
    np.testing.assert_allclose(told.data, demo.data * 1e-6)


def test_xdf_cli_import_and_replay(demo, tmp_path, capsys):
    path = _xdf_of(demo, tmp_path / "cli.xdf", markers=[(1.0, "label:go")])
    assert main(["import", str(path), "--out", str(tmp_path / "rec"), "--no-index"]) == 0
    m = read_folder(tmp_path / "rec").markers[0]
    assert (m.kind, m.label) == ("label", "go") and m.t == pytest.approx(1.0, abs=1e-9)
    assert main(["replay", str(path), "--seconds", "10", "--target", "engagement",
                 "--stream", "demo-EEG"]) == 0
    n = len(replay(demo, seconds=10.0, target="engagement"))
    assert f"with target engagement: {n} updates" in capsys.readouterr().out


def test_truncated_xdf_is_an_error_or_a_shorter_recording(demo, tmp_path):
    path = _xdf_of(demo, tmp_path / "whole.xdf", markers=[(1.0, "a")])
    blob = path.read_bytes()
    for cut in (10, len(blob) // 3, len(blob) - 7):
        part = tmp_path / f"cut{cut}.xdf"
        part.write_bytes(blob[:cut])
        try:
            rec = formats.read_file(part)
        except RecordingError as err:
            assert part.name in str(err)
        else:
            assert rec.n_samples <= demo.n_samples
            assert any("cut short" in w for w in rec.warnings), rec.warnings  # and says so
    assert not [w for w in formats.read_file(path).warnings if "cut short" in w]


# -- OpenBCI GUI --------------------------------------------------------------------------------


def test_openbci_gui_sample_files_import(tmp_path):
    v5 = formats.read_file(_need(OPENBCI_V5))
    old = formats.read_file(_need(OPENBCI_OLD))
    for rec in (v5, old):
        assert rec.info.board == "cyton" and rec.info.sfreq == 250.0
        assert rec.ch_names == ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")
        assert any("do not say where the electrodes were" in w for w in rec.warnings)
    np.testing.assert_array_equal(v5.data, old.data)  # the same session, two header generations
    assert v5.data[0, 0] == 61379.36 and v5.timestamps[0] == pytest.approx(1557936053.329)
    named = formats.read_file(OPENBCI_V5, montage="Fz,Cz,Pz,Oz,C3,C4,P3,P4")
    assert named.ch_names[0] == "Fz" and not any("electrodes" in w for w in named.warnings)
    with pytest.raises(RecordingError, match="names 3 channels"):
        formats.read_file(OPENBCI_V5, montage="Fz,Cz,Pz")


def test_openbci_gui_sample_replays_with_focus_and_60_hz_mains():
    # Recorded where the mains is 60 Hz, with a Cyton's raw mains 8-60× the EEG's power: with
    # the notch at 60 Hz (detected) it is judged after the notch, and focus flows (blinks and
    # jaw clenches are still gated, as they should be).
    from neurofb.config import EngineConfig
    from neurofb.stream.assemble import ReplayRequest, StreamRequest, open_stream

    rec = formats.read_file(_need(OPENBCI_V5))
    with open_stream(StreamRequest(ReplayRequest(rec, speed=None))) as stream:
        updates: list = []
        stream.runner.add_update_listener(updates.append)
        stream.run()
        assert stream.pipeline.line_freq == 60.0
        assert "detected" in stream.pipeline.mains_note
        assert stream.target == "model"
    gated = [u for u in updates if u.focus is None]
    assert len(updates) == 350 and len(gated) < 0.2 * len(updates)  # it was 349 of 350
    # With a 50 Hz setting the 60 Hz hum passes the notch: it is named as mains, never as EMG.
    config = EngineConfig(line_freq=50.0)
    wrong = replay(rec, target="engagement", config=config)
    assert sum("line noise" in u.reason for u in wrong) > 0.9 * len(wrong)
    emg_at_50 = {u.sample_index for u in wrong if "EMG" in u.reason}
    emg_at_60 = {u.sample_index for u in updates if "EMG" in u.reason}  # jaw clenches
    assert emg_at_50 <= emg_at_60


def _v6_lines(rec_v5_path: Path, n: int) -> list[str]:
    """The first n samples of the real v5 file, written as OpenBCI GUI v6 writes a Cyton."""
    rows = [line for line in rec_v5_path.read_text().splitlines() if not line.startswith("%")]
    names = (["Sample Index"] + [f"EXG Channel {i}" for i in range(8)]
             + [f"Accel Channel {i}" for i in range(3)] + ["Other"] * 7
             + [f"Analog Channel {i}" for i in range(3)] + ["Timestamp", "Marker Channel",
                                                            "Timestamp (Formatted)"])
    out = ["%OpenBCI Raw EXG Data", "%Number of channels = 8", "%Sample Rate = 250 Hz",
           "%Board = OpenBCI_GUI$BoardCytonSerial", ", ".join(names)]
    for k, line in enumerate(rows[1 : n + 1]):
        cells = [c.strip() for c in line.split(",")]
        stamp = float(cells[22]) / 1000.0
        marker = "3.0" if k == 500 else "0.0"
        when = dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        out.append(", ".join([*cells[:22], f"{stamp:.6f}", marker, when]))
    return out


def test_openbci_gui_v6_cyton_daisy_ganglion(tmp_path):
    v5 = formats.read_file(_need(OPENBCI_V5))
    v6 = tmp_path / "OpenBCI-RAW-2024-01-01_12-00-00.txt"
    v6.write_text("\n".join(_v6_lines(OPENBCI_V5, 1000)) + "\n")
    rec = formats.read_file(v6)
    assert rec.meta["openbci_format"] == "v6" and rec.info.board == "cyton"
    np.testing.assert_array_equal(rec.data, v5.data[:, :1000])
    assert rec.markers == [Marker(2.0, "note", "3")]
    rng = np.random.default_rng(0)
    for board, n_ch, sfreq, cls in (("cyton_daisy", 16, 125, "BoardCytonSerialDaisy"),
                                    ("ganglion", 4, 200, "BoardGanglionBLE")):
        names = (["Sample Index"] + [f"EXG Channel {i}" for i in range(n_ch)]
                 + ["Timestamp", "Other", "Timestamp (Formatted)"])
        lines = ["%OpenBCI Raw EXG Data", f"%Number of channels = {n_ch}",
                 f"%Sample Rate = {sfreq} Hz", f"%Board = OpenBCI_GUI${cls}", ", ".join(names)]
        data = rng.normal(0, 20, (400, n_ch))
        for i in range(400):
            lines.append(", ".join([str(i % 256), *(f"{v:.4f}" for v in data[i]),
                                    f"{1.7e9 + i / sfreq:.6f}", "0.0", "2024-01-01 00:00:00"]))
        path = tmp_path / f"{board}.txt"
        path.write_text("\n".join(lines) + "\n")
        got = formats.read_file(path)
        assert got.info.board == board and got.info.sfreq == sfreq
        np.testing.assert_allclose(got.data, data.T, atol=1e-4)


def test_bad_openbci_files_give_clear_errors(tmp_path):
    lines = _v6_lines(_need(OPENBCI_V5), 300)
    cut = tmp_path / "cut.txt"
    cut.write_text("\n".join(lines) + "\n" + lines[-1][:25])  # the GUI crashed mid-line
    rec = formats.read_file(cut)
    assert rec.n_samples == 300 and any("incomplete" in w for w in rec.warnings)
    for name, text, match in (
        ("noheader.txt", "%OpenBCI Raw EXG Data\n%Board = X\n1, 2, 3\n", "number of channels"),
        ("nodata.txt", "\n".join(lines[:5]) + "\n", "no samples"),
        ("bad.txt", "\n".join([*lines[:8], lines[8].replace(",", ";", 3), *lines[9:]]) + "\n",
         "damaged"),
        ("wrongcount.txt", "\n".join([lines[0], "%Number of channels = 9", *lines[2:]]) + "\n",
         "damaged"),
    ):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(RecordingError, match=match):
            formats.read_file(path)


def test_brainflow_csv_from_the_openbci_gui_needs_no_board(tmp_path):
    # The GUI's "BrainFlow-RAW_*.csv": a Cyton's 24 BrainFlow rows, tab-separated, no sidecar.
    v5 = formats.read_file(_need(OPENBCI_V5))
    rows = np.zeros((24, v5.n_samples))
    rows[1:9] = v5.data
    rows[22] = v5.timestamps
    path = tmp_path / "BrainFlow-RAW_2024-01-01_12-00-00_0.csv"
    np.savetxt(path, rows.T, delimiter="\t", fmt="%.6f")
    rec = formats.read_file(path)
    assert rec.info.board == "cyton" and any("names no board" in w for w in rec.warnings)
    np.testing.assert_allclose(rec.data, v5.data, atol=1e-6)
    # 32 columns whose timestamps advance at 125 Hz: a Cyton + Daisy, not the synthetic board
    daisy = np.zeros((32, 500))
    daisy[30] = 1.7e9 + np.arange(500) / 125.0
    path2 = tmp_path / "daisy.csv"
    np.savetxt(path2, daisy.T, delimiter="\t", fmt="%.6f")
    assert formats.read_file(path2).info.board == "cyton_daisy"


# -- Mind Monitor, muselsl ------------------------------------------------------------------------

MIND_MONITOR_HEADER = (
    "TimeStamp,Delta_TP9,Delta_AF7,Delta_AF8,Delta_TP10,Theta_TP9,Theta_AF7,Theta_AF8,"
    "Theta_TP10,Alpha_TP9,Alpha_AF7,Alpha_AF8,Alpha_TP10,Beta_TP9,Beta_AF7,Beta_AF8,Beta_TP10,"
    "Gamma_TP9,Gamma_AF7,Gamma_AF8,Gamma_TP10,RAW_TP9,RAW_AF7,RAW_AF8,RAW_TP10,AUX_RIGHT,"
    "Accelerometer_X,Accelerometer_Y,Accelerometer_Z,Gyro_X,Gyro_Y,Gyro_Z,HeadBandOn,HSI_TP9,"
    "HSI_AF7,HSI_AF8,HSI_TP10,Battery,Elements"
)


def _mind_monitor(path: Path, eeg: np.ndarray, *, rate: float = 256.0, gap_s: float = 0.0
                  ) -> Path:
    """Mind Monitor's CSV (Recording Interval: Constant): packets of 12 samples share a time;
    ``gap_s``: a Bluetooth dropout of that long after the first 10 s."""
    cols = MIND_MONITOR_HEADER.split(",")
    start = dt.datetime(2024, 3, 1, 10, 0, 0)
    lines = [MIND_MONITOR_HEADER,
             start.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "," * (len(cols) - 2)
             + ",/muse/event/connected MuseS-1234"]
    for i in range(eeg.shape[1]):
        lost = gap_s if i >= 10 * rate else 0.0
        when = start + dt.timedelta(seconds=(i // 12) * 12 / rate + 0.1 + lost)
        cells = ["0.5"] * 20 + [f"{v:.3f}" for v in eeg[:, i]] + ["800.0"] + ["0.1"] * 6
        cells += ["1", "1.0", "1.0", "1.0", "1.0", "88.0", ""]
        lines.append(when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "," + ",".join(cells))
        if i == 1280:
            lines.append(when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "," * (len(cols) - 2)
                         + ",/Marker/1")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_mind_monitor_csv(demo, tmp_path):
    eeg = 800.0 + demo.data[[6, 0, 1, 7], : 256 * 20]  # 20 s of T7, Fp1, Fp2, T8 as a Muse
    rec = formats.read_file(_mind_monitor(tmp_path / "mindMonitor_2024-03-01--10-00-00.csv", eeg))
    assert rec.ch_names == ("TP9", "AF7", "AF8", "TP10") and rec.info.sfreq == 256.0
    np.testing.assert_allclose(rec.data, eeg, atol=6e-4)
    assert [(m.kind, m.label) for m in rec.markers] == [
        ("note", "/muse/event/connected MuseS-1234"), ("label", "marker 1")]
    assert rec.markers[1].t == 1272 / 256.0  # the first sample of the packet it came with
    assert not any("gaps" in w for w in rec.warnings)
    # a 2 s dropout: the samples are played back to back, and the import says so
    gap = formats.read_file(_mind_monitor(tmp_path / "gap.csv", eeg, gap_s=2.0))
    assert gap.n_samples == rec.n_samples and gap.markers == rec.markers
    assert any("gaps: its samples span 22.0 s but fill 20.0 s at 256 Hz" in w
               for w in gap.warnings)
    updates = replay(rec, target="engagement")
    assert any(u.focus is not None for u in updates)
    # averaged recording (1 row per second) is refused with the setting to change
    cols = MIND_MONITOR_HEADER.split(",")
    rows = [MIND_MONITOR_HEADER] + [
        f"2024-03-01 10:00:{s:02d}.000," + ",".join(["1.0"] * (len(cols) - 2)) + ","
        for s in range(30)]
    avg = tmp_path / "averaged.csv"
    avg.write_text("\n".join(rows) + "\n")
    with pytest.raises(RecordingError, match="Recording Interval to 'Constant'"):
        formats.read_file(avg)


def test_muselsl_csv(demo, tmp_path):
    eeg = demo.data[[6, 0, 1, 7], : 256 * 10]
    stamps = 5123.25 + np.arange(eeg.shape[1]) / 256.0
    lines = ["timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker0"]
    for i in range(eeg.shape[1]):
        marker = "2" if i == 700 else "0"
        lines.append(",".join([f"{stamps[i]:.3f}", *(f"{v:.3f}" for v in eeg[:, i]), "0.000",
                               marker]))
    path = tmp_path / "recording_2024-03-01-10.00.00.csv"
    path.write_text("\n".join(lines) + "\n")
    rec = formats.read_file(path)
    assert rec.ch_names == ("TP9", "AF7", "AF8", "TP10") and rec.info.sfreq == 256.0
    np.testing.assert_allclose(rec.data, eeg, atol=6e-4)
    assert [(m.kind, m.label) for m in rec.markers] == [("label", "2")]
    assert rec.markers[0].t == pytest.approx(700 / 256.0, abs=1e-9)
    assert any("Right AUX" in w for w in rec.warnings)
    # a Muse file names its channels: --montage would do nothing there, and is refused
    with pytest.raises(RecordingError, match="--montage is for sources that name no channels"):
        formats.read_file(path, montage="muse")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*lines[:50], "12.5,abc,1,2,3,0,0", *lines[50:]]) + "\n")
    with pytest.raises(RecordingError, match="not a number"):
        formats.read_file(bad)


def test_imports_keep_when_their_samples_were_recorded(demo, eegmat_dir, tmp_path):
    # muselsl stamps with Unix time by default; an EDF header has its start: the imported
    # recording starts and ends then (the session library dates it so), not at the import.
    import datetime as dt

    eeg = demo.data[[6, 0, 1, 7], : 256 * 10]
    t0 = 1709287200.5  # 2024-03-01 10:00:00.5 UTC
    lines = ["timestamps,TP9,AF7,AF8,TP10,Right AUX"] + [
        ",".join([f"{t0 + i / 256.0:.3f}", *(f"{v:.3f}" for v in eeg[:, i]), "0.000"])
        for i in range(eeg.shape[1])]
    muse = tmp_path / "unix.csv"
    muse.write_text("\n".join(lines) + "\n")
    edf = eegmat_dir / "Subject00_2.edf"
    import mne

    edf_start = mne.io.read_raw_edf(edf, verbose="error").info["meas_date"].timestamp()
    for source, start in ((muse, t0), (edf, edf_start)):
        meta = formats.open_recording(formats.import_file(source, root=tmp_path / "lib")).meta
        assert meta["start_unix"] == pytest.approx(start, abs=1e-3), source
        assert dt.datetime.fromisoformat(meta["start_time"]).timestamp() == pytest.approx(
            start, abs=1e-3)
        assert meta["end_unix"] == pytest.approx(start + meta["duration_s"], abs=1e-3)
        assert dt.datetime.fromisoformat(meta["end_time"]).timestamp() == pytest.approx(
            meta["end_unix"], abs=1e-3)
    # a muselsl file on the LSL clock (seconds since boot) has no date: the import's is used
    lsl = tmp_path / "lsl.csv"
    lsl.write_text("\n".join([lines[0]] + [",".join([f"{5123.25 + i / 256.0:.3f}",
                                                      *line.split(",")[1:]])
                                           for i, line in enumerate(lines[1:])]) + "\n")
    assert "start_unix" not in formats.read_file(lsl).meta


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(RecordingError, match="does not exist"):
        formats.open_recording(tmp_path / "nope.xdf")
    shutil.copy(_need(XDF_DIR / "minimal.xdf"), tmp_path / "m.xdf")
    assert formats.detect_format(tmp_path / "m.xdf") == "xdf"


def test_pyxdf_bookkeeping_is_shown_only_when_asked(tmp_path):
    # minimal.xdf's clock segments make pyxdf log a warning the user cannot act on; the command
    # still says in one line why the file cannot be replayed (10 Hz is too slow).
    import subprocess
    import sys

    path = str(_need(XDF_DIR / "minimal.xdf"))
    quiet = subprocess.run([sys.executable, "-m", "neurofb", "replay", path, "--speed", "max"],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    loud = subprocess.run([sys.executable, "-m", "neurofb", "-v", "replay", path, "--speed",
                           "max"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert quiet.returncode == loud.returncode == 2
    assert quiet.stderr.strip().splitlines() == [
        line for line in quiet.stderr.strip().splitlines() if "error:" in line]
    assert "at least 90 Hz" in quiet.stderr and "pyxdf" not in quiet.stderr
    assert "Segments and clock-segments differ" in loud.stderr


def test_replay_of_unnamed_channels_falls_back_like_a_live_stream(tmp_path, capsys):
    # clock_resets.xdf names no channels: like an unlabelled live LSL stream, replay feeds back
    # band-power engagement with a warning; a model, target or baseline the user named is
    # never replaced (then it is an error).
    from neurofb.cli import main

    path = str(_need(XDF_DIR / "clock_resets.xdf"))
    trace = tmp_path / "t.csv"
    assert main(["replay", path, "--speed", "max", "--seconds", "20", "--trace",
                 str(trace)]) == 0
    printed = capsys.readouterr()
    assert "using the engagement target instead" in printed.err
    assert "with target engagement" in printed.out and trace.exists()
    for named in (["--target", "model"], ["--baseline", "60"]):
        assert main(["replay", path, "--speed", "max", "--seconds", "20", *named]) == 2
        assert "focus model cannot use this headset" in capsys.readouterr().err
