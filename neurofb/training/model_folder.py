"""Write trained networks as a model folder with their full model.json record."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from neurofb.config import EngineConfig
from neurofb.dsp import montage
from neurofb.focus.baseline import BASELINE_S, MIN_WINDOWS, STD_FLOOR
from neurofb.focus.features import BAND_NAMES, N_FEATURES
from neurofb.focus.io import save_model
from neurofb.training.train import TrainResult
from neurofb.training.windows import FeatureSet, filter_description

TASK = ("focus: 1 = engaged in a demanding mental task (serial subtraction), 0 = resting "
        "with eyes open")


def input_section(fs: FeatureSet, config: EngineConfig) -> dict[str, Any]:
    """The ``input`` section of model.json: what the model expects."""
    return {
        "window_s": float(fs.window_s),
        "unit": "uV",
        "channels": list(fs.ch_names),
        "min_channels": montage.MIN_CHANNELS,
        "montage": "any 3 or more 10-20/10-10 electrodes (positions: MNE 10-05 template)",
        "sampling_rate": "the stream's own (>= 90 Hz); nothing is resampled",
        "preprocessing": filter_description(config),
        "features": f"{N_FEATURES} per electrode (neurofb.focus.features): log10 power of the "
                    f"bands {list(BAND_NAMES)} (uV^2; the PSD summed over 1 Hz bins in "
                    "[low, high), gamma including 45 Hz), then log10 Welch PSD at 1..45 Hz "
                    "(uV^2/Hz); non-integer rates: the PSD interpolated onto the 1 Hz grid",
        "normalisation": "inside each member of the network: feat_mean / feat_std (class-"
                         "balanced mean and pooled std of its training windows)",
        "output": "sigmoid(logit), computed in float64 outside the graph: probability of the "
                  "task (focused) class; attention over electrodes as the explanation",
    }


def baseline_section(baseline_s: float = BASELINE_S) -> dict[str, Any]:
    """The ``baseline`` section of model.json: the baseline mode's contract."""
    return {
        "baseline_s": baseline_s, "min_windows": MIN_WINDOWS, "std_floor": STD_FLOOR,
        "contract": "neurofb.focus.baseline.SessionBaseline: scored windows lying entirely in "
                    "the first baseline_s seconds (rest) feed per-feature mean and std and are "
                    "scored by model.onnx (cold); the first window ending later freezes them; "
                    "every later window is re-centred (f - mean) / (std + std_floor) and "
                    "scored by baseline.onnx. Fewer than min_windows clean windows: cold",
    }


def save_trained_models(results: dict[str, TrainResult], fs: FeatureSet,
                        out_dir: str | os.PathLike, *, data: dict, name: str,
                        config: EngineConfig = EngineConfig(), baseline_s: float = BASELINE_S,
                        metrics: dict | None = None, extra: dict | None = None,
                        overwrite: bool = False) -> Path:
    """Write each mode's trained ensemble with model.json recording data, recipe and metrics.

    Parameters
    ----------
    results : dict of str to TrainResult
        ``{"cold": …, "baseline": …}``.
    fs : FeatureSet
        The training windows (for the input contract).
    out_dir : path-like
        The model folder to write.
    data : dict
        Description of the training data (dataset, files and their SHA-256).
    name : str
        The model's name.
    config : EngineConfig
        The filter settings the windows were made with.
    baseline_s : float
        The baseline mode's rest (s) the baseline network was trained with.
    metrics : dict, optional
        Evaluation results to record (e.g. the cross-validation against the baselines).
    extra : dict, optional
        More top-level model.json entries.
    overwrite : bool
        Replace a model already in ``out_dir``.
    """
    first = next(iter(results.values()))
    meta = {
        "name": name,
        "task": TASK,
        "input": input_section(fs, config),
        "baseline": baseline_section(baseline_s),
        "training": {"data": data, "device": first.device, "world_size": first.world_size,
                     "seconds": round(sum(r.seconds for r in results.values()), 1),
                     "modes": {mode: r.summary() for mode, r in results.items()}},
        "metrics": metrics or {},
        **(extra or {}),
    }
    return save_model({mode: r.model for mode, r in results.items()}, out_dir, meta,
                      overwrite=overwrite)
