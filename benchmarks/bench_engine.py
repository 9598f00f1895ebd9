"""Per-update cost: the neurofb engine against BrainFlow's own route, on the same windows.

One live update of the engine is one ``Pipeline.process`` call with one hop of new samples: the
stateful filter on those samples, the ring buffer, then band powers, signal quality and the
estimator on the 2-s window, smoothing and gating — everything that produces one ``Update``.
BrainFlow's route on the same 2-s window (raw samples, as BrainFlow would see them) is
``DataFilter.get_avg_band_powers(window, channels, 250, True)`` (it filters the window itself)
followed by ``MLModel(MINDFULNESS, DEFAULT_CLASSIFIER).predict`` on the feature vector.

The two routes alternate update by update, so both see the same machine load. Data: real EEG
(eegmat, resampled to 250 Hz) when ``NEUROFB_EEGMAT`` or ``../shared/data/eegmat`` has it,
otherwise seeded 1/f noise. Rows: for each channel count and estimator, p50/p99 per update in
ms and BrainFlow/engine ratios (the target is an engine p99 at most 1/5 of BrainFlow's).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

NAME = "engine"
DESCRIPTION = (
    "ms per live update: neurofb engine (filter + band powers + quality + estimator) vs "
    "BrainFlow get_avg_band_powers + MLModel(MINDFULNESS).predict, same windows"
)

SFREQ = 250.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``neurofb bench engine``."""
    parser.add_argument("--updates", type=int, default=1000,
                        help="engine: updates timed per route and channel count (default 1000)")
    parser.add_argument("--engine-channels", default="8,16",
                        help="engine: comma-separated channel counts (default 8,16)")


def eegmat_folder() -> Path | None:
    """The eegmat EDF folder if present (``NEUROFB_EEGMAT`` or ``../shared/data/eegmat``)."""
    from neurofb.paths import REPO_ROOT

    folder = Path(os.environ.get("NEUROFB_EEGMAT", REPO_ROOT.parent / "shared" / "data" / "eegmat"))
    return folder if (folder / "Subject00_1.edf").exists() else None


def load_eeg(n_channels: int, n_samples: int) -> tuple[np.ndarray, str]:
    """``n_samples`` of ``n_channels``-channel EEG at 250 Hz (µV) and where it came from."""
    folder = eegmat_folder()
    if folder is not None and n_channels <= 19:
        import mne
        from scipy.signal import resample_poly

        parts = []
        for path in sorted(folder.glob("Subject*_1.edf")):
            raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
            eeg = raw.get_data(picks=list(range(n_channels)))
            parts.append(resample_poly(eeg * 1e6, 1, int(raw.info["sfreq"] / SFREQ), axis=-1))
            if sum(p.shape[1] for p in parts) >= n_samples:
                break
        data = np.concatenate(parts, axis=1)
        if data.shape[1] >= n_samples:
            return np.ascontiguousarray(data[:, :n_samples]), "eegmat (resampled to 250 Hz)"
    rng = np.random.default_rng(0)
    spectrum = rng.standard_normal((n_channels, n_samples // 2 + 1)) * (
        1.0 / np.maximum(np.fft.rfftfreq(n_samples, 1 / SFREQ), 1.0)
    )
    noise = np.fft.irfft(spectrum, n_samples, axis=-1)
    return 20.0 * noise / noise.std(), "1/f noise (seed 0)"


def _estimators() -> list[tuple[str, object]]:
    """The band-power estimator, and the attention model when it is available."""
    from neurofb.errors import ModelError
    from neurofb.focus.bandpower import BandPowerEstimator
    from neurofb.focus.targets import make_estimator

    found: list[tuple[str, object]] = [("engagement", BandPowerEstimator("engagement"))]
    try:
        found.append(("model", make_estimator("model")))
    except ModelError as err:
        found.append(("model", str(err)))
    return found


def _time_routes(data: np.ndarray, estimator: object, n_updates: int) -> dict:
    from brainflow.data_filter import DataFilter
    from brainflow.ml_model import (
        BrainFlowClassifiers,
        BrainFlowMetrics,
        BrainFlowModelParams,
        MLModel,
    )

    from neurofb.config import EngineConfig
    from neurofb.pipeline import Pipeline
    from neurofb.types import Chunk, SourceInfo

    n_ch = data.shape[0]
    names = tuple(f"EEG{i}" for i in range(n_ch))
    config = EngineConfig()
    pipeline = Pipeline(SourceInfo(names, SFREQ, "bench", extra={"live": False}), estimator,
                        config)
    w, h = pipeline.window_samples, pipeline.hop_samples
    channels = list(range(n_ch))
    model = MLModel(BrainFlowModelParams(BrainFlowMetrics.MINDFULNESS.value,
                                         BrainFlowClassifiers.DEFAULT_CLASSIFIER.value))
    model.prepare()

    def chunk(a: int, b: int) -> Chunk:
        return Chunk(data[:, a:b], np.arange(a, b) / SFREQ, names, SFREQ, a)

    def engine_update(end: int) -> None:
        if len(pipeline.process(chunk(end - h, end))) != 1:
            raise RuntimeError("expected exactly one update per hop")

    def brainflow_update(window: np.ndarray) -> None:
        bands = DataFilter.get_avg_band_powers(window, channels, int(SFREQ), True)
        model.predict(np.concatenate((bands[0], bands[1])))

    pipeline.process(chunk(0, w))  # first window; the rest are one hop each
    # wall clock and CPU time of this thread (the latter ignores time the OS gave to others)
    wall = np.empty((2, n_updates))
    cpu = np.empty((2, n_updates))
    try:
        for i in range(n_updates):
            end = w + (i + 1) * h
            window = np.ascontiguousarray(data[:, end - w : end])
            for route, call, arg in ((0, engine_update, end), (1, brainflow_update, window)):
                c0, t0 = time.thread_time(), time.perf_counter()
                call(arg)
                wall[route, i] = time.perf_counter() - t0
                cpu[route, i] = time.thread_time() - c0
    finally:
        model.release()
    row = {}
    for label, times in (("wall", wall), ("cpu", cpu)):
        (e50, e99), (b50, b99) = np.percentile(times * 1e3, [50, 99], axis=1).T
        row |= {
            f"engine_p50_{label}_ms": float(e50),
            f"engine_p99_{label}_ms": float(e99),
            f"brainflow_p50_{label}_ms": float(b50),
            f"brainflow_p99_{label}_ms": float(b99),
            f"ratio_p50_{label}": float(b50 / e50),
            f"ratio_p99_{label}": float(b99 / e99),
        }
    row["target_met"] = bool(row["ratio_p99_wall"] >= 5.0)
    return row


def run(args: argparse.Namespace) -> list[dict]:
    """Time both routes for each channel count and estimator; one row each."""
    n_updates = 60 if getattr(args, "quick", False) else int(getattr(args, "updates", 1000))
    counts = [int(c) for c in str(getattr(args, "engine_channels", "8,16")).split(",") if c]
    rows = []
    for n_ch in counts:
        hop = int(SFREQ * 0.25 + 0.5)
        data, source = load_eeg(n_ch, int(2 * SFREQ) + (n_updates + 1) * hop)
        for label, estimator in _estimators():
            row: dict = {"channels": n_ch, "sfreq_hz": SFREQ, "estimator": label,
                         "updates": n_updates}
            if isinstance(estimator, str):
                row["note"] = estimator
            else:
                row.update(_time_routes(data, estimator, n_updates))
                row["data"] = source
            rows.append(row)
    return rows
