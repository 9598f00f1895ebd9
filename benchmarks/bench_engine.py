"""Per-update cost: the neurofb engine against BrainFlow's own route, on the same windows.

Four routes over the same 2-s windows of 250 Hz EEG, one update (0.25 s hop) at a time:

``features+estimator``
    what the issue compares with BrainFlow's route (which has no quality check either): band
    powers (``features.band_powers``) and the estimator's ``predict`` on one window (already
    filtered by the stateful filter, as in the pipeline);
``engine core``
    the same plus signal quality (``quality.assess``);
``engine update``
    everything one live update costs: ``Pipeline.process`` of one hop of new samples (the
    stateful filter on them, the ring buffer, the core, smoothing, gating, the ``Update``);
``brainflow``
    ``DataFilter.get_avg_band_powers(window, channels, 250, True)`` (it filters the raw window
    itself) followed by ``MLModel(MINDFULNESS, DEFAULT_CLASSIFIER).predict``.

The routes take turns every 20 updates, so all see the same machine load while each runs warm,
as it would in an app. Wall-clock and thread-CPU times are both reported (on a busy machine the
wall-clock p99 is mostly time the OS gave to other processes). Data: real EEG (eegmat, resampled
to 250 Hz) when ``NEUROFB_EEGMAT`` or ``../shared/data/eegmat`` has it, otherwise seeded 1/f
noise. ``bf_ratio_*`` is BrainFlow's time over the route's; the target is an engine-core p99 at
most 1/5 of BrainFlow's for ``features+estimator`` (``bf_ratio_p99 >= 5``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

NAME = "engine"
DESCRIPTION = (
    "ms per live update, same windows: features+estimator (the issue's comparison), engine "
    "core (+ signal quality), the "
    "whole engine update (Pipeline.process of one hop), BrainFlow get_avg_band_powers + "
    "MLModel(MINDFULNESS).predict; bf_ratio = BrainFlow's time / this route's (target p99 >= 5)"
)

SFREQ = 250.0
#: The routes take turns every BLOCK updates (same windows, same machine load, each route warm).
BLOCK = 20


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


def _time_routes(data: np.ndarray, estimator: object, n_updates: int) -> dict[str, dict]:
    """Wall and CPU ms of each route over the same ``n_updates`` windows."""
    from brainflow.data_filter import DataFilter
    from brainflow.ml_model import (
        BrainFlowClassifiers,
        BrainFlowMetrics,
        BrainFlowModelParams,
        MLModel,
    )

    from neurofb.config import EngineConfig
    from neurofb.dsp.features import band_powers
    from neurofb.dsp.filters import StreamFilter, design_filter
    from neurofb.dsp.montage import PRESETS
    from neurofb.dsp.quality import assess
    from neurofb.stream.pipeline import Pipeline
    from neurofb.types import Chunk, SourceInfo

    n_ch = data.shape[0]
    # eegmat's channel order is the 19-channel 10-20 preset's, so the names match the data.
    names = tuple(PRESETS["full"][:n_ch]) if n_ch <= 19 else tuple(f"EEG{i}" for i in range(n_ch))
    config = EngineConfig(line_freq=50.0)  # eegmat was recorded at 50 Hz mains
    pipeline = Pipeline(SourceInfo(names, SFREQ, "bench", live=False), estimator,
                        config)
    bound = estimator.bind(names, SFREQ)
    filtered = StreamFilter(design_filter(SFREQ, l_freq=config.l_freq, h_freq=config.h_freq,
                                          line_freq=config.line_freq), n_ch).process(data)
    w, h = pipeline.window_samples, pipeline.hop_samples
    channels = list(range(n_ch))
    model = MLModel(BrainFlowModelParams(BrainFlowMetrics.MINDFULNESS.value,
                                         BrainFlowClassifiers.DEFAULT_CLASSIFIER.value))
    model.prepare()

    def features_estimator(end: int) -> None:  # band powers + estimator on one window
        filt = filtered[None, :, end - w : end]
        bound.predict(filt, band_powers(filt, SFREQ, ch_names=names))

    def core(end: int) -> None:  # features + quality + estimator on one window
        raw, filt = data[None, :, end - w : end], filtered[None, :, end - w : end]
        feats = band_powers(filt, SFREQ, ch_names=names)
        assess(raw, filt, SFREQ, ch_names=names)
        bound.predict(filt, feats)

    def update(end: int) -> None:  # one whole live update: Pipeline.process of one hop
        chunk = Chunk(data[:, end - h : end], np.arange(end - h, end) / SFREQ, names, SFREQ)
        if len(pipeline.process(chunk)) != 1:
            raise RuntimeError("expected exactly one update per hop")

    def brainflow(end: int) -> None:
        window = np.ascontiguousarray(data[:, end - w : end])
        bands = DataFilter.get_avg_band_powers(window, channels, int(SFREQ), True)
        model.predict(np.concatenate((bands[0], bands[1])))

    routes = {"brainflow": brainflow, "features+estimator": features_estimator,
              "engine core": core, "engine update": update}
    pipeline.process(Chunk(data[:, :w], np.arange(w) / SFREQ, names, SFREQ))  # first window
    wall = {name: np.empty(n_updates) for name in routes}
    cpu = {name: np.empty(n_updates) for name in routes}
    try:
        for first in range(0, n_updates, BLOCK):
            block = range(first, min(first + BLOCK, n_updates))
            for name, call in routes.items():
                for i in block:
                    end = w + (i + 1) * h
                    c0, t0 = time.thread_time(), time.perf_counter()
                    call(end)
                    wall[name][i] = time.perf_counter() - t0
                    cpu[name][i] = time.thread_time() - c0
    finally:
        model.release()
    out = {}
    for name in routes:
        p50, p99 = np.percentile(wall[name] * 1e3, [50, 99])
        c50, c99 = np.percentile(cpu[name] * 1e3, [50, 99])
        out[name] = {"p50_ms": float(p50), "p99_ms": float(p99),
                     "cpu_p50_ms": float(c50), "cpu_p99_ms": float(c99)}
    return out


def run(args: argparse.Namespace) -> list[dict]:
    """Time the routes for each channel count and estimator; one row per route."""
    n_updates = 60 if getattr(args, "quick", False) else int(getattr(args, "updates", 1000))
    counts = [int(c) for c in str(getattr(args, "engine_channels", "8,16")).split(",") if c]
    rows = []
    for n_ch in counts:
        hop = int(SFREQ * 0.25 + 0.5)
        data, source = load_eeg(n_ch, int(2 * SFREQ) + (n_updates + 1) * hop)
        for label, estimator in _estimators():
            head = {"channels": n_ch, "estimator": label}
            if isinstance(estimator, str):
                rows.append({**head, "route": "-", "note": estimator})
                continue
            timed = _time_routes(data, estimator, n_updates)
            bf = timed["brainflow"]
            for route, t in timed.items():
                ours = route != "brainflow"
                rows.append({
                    **head, "route": route, **t,
                    "bf_ratio_p50": bf["p50_ms"] / t["p50_ms"] if ours else None,
                    "bf_ratio_p99": bf["p99_ms"] / t["p99_ms"] if ours else None,
                    "bf_ratio_cpu_p99": bf["cpu_p99_ms"] / t["cpu_p99_ms"] if ours else None,
                    "target_met": bf["p99_ms"] / t["p99_ms"] >= 5.0
                    if route == "features+estimator" else None,
                    "updates": n_updates,
                    "data": source,
                })
    return rows
