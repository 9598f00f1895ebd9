"""Replay speed and pace: ``neurofb replay --speed max`` against BrainFlow's own route, and drift.

1. Throughput. A one-hour 19-channel 500 Hz recording (real EEG: the eegmat files joined end to
   end; a 1/f-plus-alpha surrogate when eegmat is not there) is written as a neurofb recording and
   replayed at ``speed=max`` with a 1 s hop through the live pipeline — the default band-power
   estimator, and the attention model — timing the read and the pipeline. BrainFlow's route runs
   over the same windows: ``DataFilter.get_avg_band_powers`` + ``MLModel(MINDFULNESS).predict``
   per window, as BrainFlow's own example does. The two are timed interleaved, 60 s of recording
   at a time, so a busy machine slows both alike. Reported: wall time, ms per window, hours of EEG
   per second, and the ratio to BrainFlow's route (target ≥ 10×).
2. Pace at ``speed=1``: a :class:`~neurofb.stream.replay.ReplaySource` and BrainFlow's playback
board
   run side by side on the real clock for ``--drift-seconds``; the lag of the delivered samples
   behind the wall clock is followed (change over the run, and a fitted slope extrapolated to
   10 minutes; target < 50 ms per 10 min). A simulated 10-minute run with irregular reads checks
   the same on a fake clock.

Run: ``neurofb bench replay`` (``--quick`` for a smoke run; ``--drift-seconds 600`` for a real
10-minute pace run; ``--replay-hours``, ``--replay-hop``, ``--replay-model DIR``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

NAME = "replay"
DESCRIPTION = "replay --speed max vs BrainFlow's band powers + MLModel per window; speed=1 drift"

EEGMAT = Path(os.environ.get("NEUROFB_EEGMAT", Path(__file__).resolve().parents[2]
                             / "shared" / "data" / "eegmat"))
SFREQ = 500.0
CH_NAMES = ("Fp1", "Fp2", "F3", "F4", "F7", "F8", "T7", "T8", "C3", "C4",
            "P7", "P8", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``neurofb bench replay`` (prefixed: all benchmarks share one parser)."""
    parser.add_argument("--replay-hours", type=float, default=1.0,
                        help="hours of EEG to replay at max speed (default 1)")
    parser.add_argument("--replay-hop", type=float, default=1.0,
                        help="seconds between updates in the replay benchmark (default 1)")
    parser.add_argument("--drift-seconds", type=float, default=60.0,
                        help="seconds of real-time speed=1 pace measurement (default 60)")
    parser.add_argument("--replay-model", default=None, metavar="DIR",
                        help="attention model folder for the replay benchmark")


def _options(args: argparse.Namespace) -> dict:
    """This benchmark's settings from ``args`` (defaults where the parser did not add them)."""
    quick = bool(getattr(args, "quick", False))
    return {
        "hours": 2 / 60 if quick else float(getattr(args, "replay_hours", 1.0)),
        "hop_s": float(getattr(args, "replay_hop", 1.0)),
        "drift_s": 3.0 if quick else float(getattr(args, "drift_seconds", 60.0)),
        "model": getattr(args, "replay_model", None),
    }


def _eeg(seconds: float) -> tuple[np.ndarray, str]:
    """``seconds`` of 19-channel EEG at 500 Hz in µV, and where it came from."""
    n = round(seconds * SFREQ)
    files = sorted(EEGMAT.glob("Subject*_[12].edf"))
    if files:
        import mne

        parts, have = [], 0
        for k in range(len(files) * 100):
            raw = mne.io.read_raw_edf(files[k % len(files)], preload=True, verbose="ERROR")
            part = raw.get_data(picks=list(range(19))) * 1e6
            if k >= len(files):  # second pass: a different gain so no stretch repeats exactly
                part *= 1.0 + 0.05 * (k // len(files))
            parts.append(part)
            have += part.shape[1]
            if have >= n:
                break
        return np.concatenate(parts, axis=1)[:, :n], f"eegmat ({len(parts)} files joined)"
    rng = np.random.default_rng(0)
    spec = rng.normal(size=(19, n // 2 + 1)) + 1j * rng.normal(size=(19, n // 2 + 1))
    f = np.fft.rfftfreq(n, 1 / SFREQ)
    spec *= 1 / np.maximum(f, 1.0) + 3 * np.exp(-0.5 * ((f - 10) / 1.5) ** 2)
    x = np.fft.irfft(spec, n)
    return x * (20 / x.std()), "1/f + alpha surrogate (eegmat not found)"


def _write(path: Path, data: np.ndarray) -> None:
    from neurofb.recording import RecordingWriter
    from neurofb.types import Chunk, SourceInfo

    info = SourceInfo(CH_NAMES, SFREQ, "bench")
    step = round(60 * SFREQ)
    with RecordingWriter(path, info, meta={"user": "bench"}) as writer:
        for a in range(0, data.shape[1], step):
            b = min(a + step, data.shape[1])
            writer.write_chunk(Chunk(data[:, a:b], np.arange(a, b) / SFREQ, CH_NAMES, SFREQ, a))


def _model_dir(model: str | None, tmp: Path) -> tuple[Path, str]:
    """The attention model to time: --model, the shipped one, or an untrained FocusLRA."""
    from neurofb import paths

    for folder in (model, paths.default_model_dir()):
        if folder and (Path(folder) / "model.json").is_file():
            return Path(folder), f"model ({Path(folder).name})"
    import torch

    from neurofb.focus.io import save_model
    from neurofb.focus.model import FocusLRA

    torch.manual_seed(0)
    nets = {mode: FocusLRA(n_members=5) for mode in ("cold", "baseline")}
    save_model(nets, tmp / "untrained", {"input": {"window_s": 2.0}})
    return tmp / "untrained", "model (untrained FocusLRA: none shipped yet)"


class _BrainFlowRoute:
    """BrainFlow's route per window: ``get_avg_band_powers`` then ``MLModel(MINDFULNESS)``."""

    def __init__(self, n_channels: int) -> None:
        from brainflow.data_filter import DataFilter
        from brainflow.ml_model import (
            BrainFlowClassifiers,
            BrainFlowMetrics,
            BrainFlowModelParams,
            MLModel,
        )

        self._band_powers = DataFilter.get_avg_band_powers
        self.model = MLModel(BrainFlowModelParams(
            BrainFlowMetrics.MINDFULNESS.value, BrainFlowClassifiers.DEFAULT_CLASSIFIER.value
        ))
        self.model.prepare()
        self.channels = list(range(n_channels))

    def run(self, data: np.ndarray, ends: list[int], window: int) -> None:
        """Score the windows of ``data`` (n_channels, n) µV ending at ``ends``."""
        for end in ends:
            w = np.ascontiguousarray(data[:, end - window : end])
            bands = self._band_powers(w, self.channels, int(SFREQ), True)
            self.model.predict(bands[0])  # as BrainFlow's own example: the average band powers

    def close(self) -> None:
        self.model.release()


def _throughput(opts: dict, tmp: Path) -> list[dict]:
    """Replay at max speed and BrainFlow's route, interleaved chunk by chunk.

    Each replay is ``ReplaySource(speed=None)`` → ``Pipeline.process``, exactly what
    :func:`neurofb.stream.assemble.replay` (and ``neurofb replay --speed max``) runs.
    """
    from neurofb.config import EngineConfig
    from neurofb.errors import EndOfStream
    from neurofb.focus.targets import make_estimator
    from neurofb.recording import open_recording
    from neurofb.stream.assemble import replay
    from neurofb.stream.pipeline import Pipeline
    from neurofb.stream.replay import ReplaySource

    data, origin = _eeg(opts["hours"] * 3600)
    path = tmp / "hour"
    _write(path, data)
    del data
    config = EngineConfig(hop_s=opts["hop_s"])
    window = round(config.window_s * SFREQ)
    model_dir, model_label = _model_dir(opts["model"], tmp)
    cases = {"engagement (band power)": "engagement", model_label: "model"}
    t0 = time.perf_counter()
    rec = open_recording(path)
    t_read = time.perf_counter() - t0
    runs = {}
    for label, target in cases.items():
        # warm-up on 20 s: imports, filter design and model load are not per-hour costs
        replay(rec, speed=None, target=target, model_dir=model_dir, config=config, seconds=20)
        source = ReplaySource(rec, speed=None)
        estimator = make_estimator(target, model_dir=model_dir, baseline_s=config.baseline_s)
        runs[label] = [source, Pipeline(source.info, estimator, config), 0.0, 0]
        source.start()
    brainflow = _BrainFlowRoute(len(rec.ch_names))
    bf_s, n_windows = 0.0, 0
    try:
        while True:
            ends: list[int] | None = None
            for run_ in runs.values():
                t0 = time.perf_counter()
                try:
                    chunk = run_[0].read()
                except EndOfStream:
                    chunk = None
                updates = run_[1].process(chunk) if chunk is not None else []
                run_[2] += time.perf_counter() - t0
                run_[3] += len(updates)
                if ends is None:
                    ends = [u.sample_index for u in updates]
            if chunk is None:
                break
            t0 = time.perf_counter()
            brainflow.run(rec.data, ends, window)
            bf_s += time.perf_counter() - t0
            n_windows += len(ends)
    finally:
        brainflow.close()
    eeg_h = rec.duration_s / 3600
    from neurofb.config import usable_cpus

    n_cpu = usable_cpus()
    rows = []
    for label, (_, pipeline, spent, n) in runs.items():
        cpus = (f"{n_cpu} CPUs: filtering and quality on a worker thread, band powers and "
                "focus on the pipeline's" if pipeline._alongside
                else f"{n_cpu} CPU: everything on the pipeline's thread")
        if n != n_windows:
            raise RuntimeError(f"{label}: {n} updates for {n_windows} windows")
        total = t_read + spent
        rows.append(_row(f"neurofb replay --speed max: {label}", eeg_h, n, total,
                         ratio=bf_s / total,
                         note=f"read {t_read:.2f} s + pipeline {spent:.2f} s; "
                              f"{cpus}; {origin}"))
    rows.append(_row("BrainFlow get_avg_band_powers + MLModel(MINDFULNESS).predict",
                     eeg_h, n_windows, bf_s, ratio=1.0, note="per window, the same windows"))
    return rows


def _row(case: str, eeg_h: float, windows: int, wall: float, *, ratio: float | None = None,
         drift: float | None = None, per_10min: float | None = None, note: str = "") -> dict:
    """One table row; throughput columns for throughput cases, drift for pace cases."""
    fast = windows > 0
    return {
        "case": case,
        "eeg_h": round(eeg_h, 3),
        "windows": windows if fast else None,
        "wall_s": round(wall, 3),
        "ms_per_window": round(1000 * wall / windows, 3) if fast else None,
        "eeg_h_per_s": round(eeg_h / wall, 3) if fast and wall else None,
        "x_brainflow": None if ratio is None else round(float(ratio), 1),
        "drift_ms": None if drift is None else round(float(drift), 2),
        "drift_ms_per_10min": None if per_10min is None else round(float(per_10min), 1),
        "note": note,
    }


def _lag_fit(times: list[float], lags: list[float]) -> tuple[float, float]:
    """Slope of the lag in ms per 10 minutes, and the largest |lag| in ms."""
    t, lag = np.asarray(times), np.asarray(lags)
    slope = float(np.polyfit(t, lag, 1)[0]) if t.size > 2 else 0.0
    return 1000 * slope * 600, 1000 * float(np.max(np.abs(lag)))


def _playback_file(path: Path, seconds: float, data: np.ndarray) -> Path:
    """A BrainFlow CSV in the synthetic board's layout, stamped at its 250 Hz."""
    from brainflow.board_shim import BoardIds, BoardShim
    from brainflow.data_filter import DataFilter

    board = BoardIds.SYNTHETIC_BOARD.value
    fs = BoardShim.get_sampling_rate(board)
    n = round(seconds * fs)
    rows = np.zeros((BoardShim.get_num_rows(board), n))
    eeg = BoardShim.get_eeg_channels(board)
    src = data[: len(eeg), ::2]
    reps = int(np.ceil(n / src.shape[1]))
    rows[eeg] = np.tile(src, reps)[:, :n]
    rows[BoardShim.get_timestamp_channel(board)] = time.time() + np.arange(n) / fs
    DataFilter.write_file(rows, str(path), "w")
    return path


def _drift(opts: dict, tmp: Path) -> list[dict]:
    from neurofb.errors import EndOfStream
    from neurofb.recording import open_recording
    from neurofb.stream.brainflow import open_board
    from neurofb.stream.replay import ReplaySource

    seconds = opts["drift_s"]
    rec = open_recording(tmp / "hour")
    replay_src = ReplaySource(rec, speed=1.0, loop=True)
    csv = _playback_file(tmp / "playback.csv", seconds + 30, rec.data)
    playback = open_board("playback", file=csv, master_board="synthetic")
    sources = {"replay": replay_src, "playback": playback}
    got = dict.fromkeys(sources, 0)
    curves: dict[str, tuple[list, list]] = {k: ([], []) for k in sources}
    intervals: list[float] = []
    playback.start()
    replay_src.start()
    t0 = last = time.monotonic()
    try:
        while (now := time.monotonic()) - t0 < seconds:
            intervals.append(now - last)
            last = now
            for name, src in sources.items():
                try:
                    chunk = src.read()
                except EndOfStream:
                    chunk = None
                if chunk is not None:
                    got[name] += chunk.n_samples
                    elapsed = time.monotonic() - t0
                    curves[name][0].append(elapsed)
                    curves[name][1].append(elapsed - got[name] / src.info.sfreq)
            time.sleep(0.02)
    finally:
        playback.stop()
        replay_src.stop()
    labels = {"replay": "ReplaySource speed=1 (real clock)",
              "playback": "BrainFlow playback board (real clock)"}
    rows = []
    for name, (times, lags) in curves.items():
        if not lags:
            continue
        slope, worst = _lag_fit(times, lags)
        rows.append(_row(labels[name], seconds / 3600, 0, seconds,
                         drift=1000 * (lags[-1] - lags[0]),
                         per_10min=slope if seconds >= 60 else None,
                         note=f"lag behind the wall clock: first {1000 * lags[0]:.1f} ms, last "
                              f"{1000 * lags[-1]:.1f} ms, max {worst:.1f} ms; per 10 min: "
                              "fitted slope (runs of 60 s or more)"))
    rows.append(_simulated(rec, np.asarray(intervals[1:])))
    return rows


def _simulated(rec, intervals: np.ndarray) -> dict:
    """10 simulated minutes at speed=1, reads at the measured (irregular) intervals × 0.5–3."""
    from neurofb.stream.replay import ReplaySource

    clock_now = [0.0]
    source = ReplaySource(rec, speed=1.0, loop=True, clock=lambda: clock_now[0])
    rng = np.random.default_rng(0)
    steps = intervals if intervals.size else np.array([0.02, 0.05])
    source.start()
    delivered, times, lags = 0, [], []
    while clock_now[0] < 600:
        clock_now[0] += float(rng.choice(steps)) * rng.uniform(0.5, 3.0)
        chunk = source.read()
        if chunk is not None:
            delivered += chunk.n_samples
            times.append(clock_now[0])
            lags.append(clock_now[0] - delivered / rec.sfreq)
    slope, worst = _lag_fit(times, lags)
    return _row("ReplaySource speed=1 (simulated 10 min, irregular reads)", 600 / 3600, 0, 600,
                drift=1000 * (lags[-1] - lags[0]), per_10min=slope,
                note=f"fake clock; lag first {1000 * lags[0]:.2f} ms, last "
                     f"{1000 * lags[-1]:.2f} ms, max {worst:.1f} ms")


def run(args: argparse.Namespace) -> list[dict]:
    """Run the benchmark; return the table rows."""
    with tempfile.TemporaryDirectory(prefix="neurofb-bench-replay-") as tmp:
        opts = _options(args)
        rows = _throughput(opts, Path(tmp))
        rows += _drift(opts, Path(tmp))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    add_arguments(parser)
    for row in run(parser.parse_args()):
        print(row)
