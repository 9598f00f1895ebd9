"""Export a trained model as a model folder with its full model.json record."""

from __future__ import annotations

import os
from pathlib import Path

from neurofb.config import EngineConfig
from neurofb.dsp import montage
from neurofb.focus.io import save_model
from neurofb.training.train import TrainResult
from neurofb.training.windows import WindowSet, filter_description

NORMALISATION = (
    "inside the model: Welch log10 PSD per channel (1 s Hann segments, 1 Hz bins, 1-45 Hz); "
    "token = spectral shape (log PSD minus the channel's mean), channel level relative to the "
    "other channels, absolute level; standardised with feat_mean/feat_std (buffers in the "
    "weights: class-balanced mean and std of the training windows)"
)


def input_section(ws: WindowSet, config: EngineConfig) -> dict:
    """The ``input`` section of model.json: what the model expects."""
    return {
        "sfreq": float(ws.sfreq),
        "window_s": ws.X.shape[2] / ws.sfreq,
        "n_times": int(ws.X.shape[2]),
        "unit": "uV",
        "channels": list(ws.ch_names),
        "min_channels": montage.MIN_CHANNELS,
        "montage": "any 10-20/10-10 electrodes (positions: MNE 10-05 template)",
        "preprocessing": filter_description(config),
        "normalisation": NORMALISATION,
        "output": "sigmoid(logit): probability of the task (focused) class; attention over "
                  "channels as explanation",
    }


def save_trained_model(result: TrainResult, ws: WindowSet, out_dir: str | os.PathLike, *,
           data: dict, name: str, config: EngineConfig = EngineConfig(),
           metrics: dict | None = None, extra: dict | None = None,
           overwrite: bool = False) -> Path:
    """Write ``result.model`` with model.json recording data, recipe and metrics.

    Parameters
    ----------
    result : TrainResult
        The training run.
    ws : WindowSet
        Its training windows (for the input contract).
    out_dir : path-like
        The model folder to write.
    data : dict
        Description of the training data (dataset, files and their SHA-256).
    name : str
        The model's name.
    metrics : dict, optional
        Evaluation results to record (e.g. cross-validation against the baselines).
    extra : dict, optional
        More top-level model.json entries.
    """
    meta = {
        "name": name,
        "task": "focus: 1 = engaged in a demanding mental task (serial subtraction), "
                "0 = resting",
        "input": input_section(ws, config),
        "training": {"data": data, **result.summary()},
        "metrics": {"validation_auc": result.best_score, **(metrics or {})},
        **(extra or {}),
    }
    return save_model(result.model, out_dir, meta, overwrite=overwrite)
