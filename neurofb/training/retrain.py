"""Retrain a model on a user's labelled recordings: the app's "Retrain" and a one-call API.

``neurofb train --recordings ... --init MODEL --out DIR`` does the same from the command line
(with recipe selection, eegmat data and DDP on top).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from neurofb.errors import NeurofbError
from neurofb.training.train import TrainConfig


def retrain_from_recordings(model_dir: str | os.PathLike, recordings: Sequence[str | os.PathLike],
                            out_dir: str | os.PathLike, *,
                            config: TrainConfig = TrainConfig(max_epochs=30),
                            device: str | torch.device = "cpu",
                            progress: Callable[[dict], None] | None = None,
                            cancel: Callable[[], bool] | None = None) -> dict:
    """Train a model further on labelled recordings and write it as a new model folder.

    The model's input contract (sampling rate, window) decides how the recordings are cut; a
    personalised model starts from its population part (its personal head is one person's).

    Parameters
    ----------
    model_dir : path-like
        The model to start from.
    recordings : sequence of path-like
        neurofb recordings (or folders of them) with labelled rest/task blocks.
    out_dir : path-like
        The new model folder (must not hold a model yet).
    config : TrainConfig
        Training hyper-parameters.
    device : str or torch.device
        Where to train.
    progress : callable(dict), optional
        Called after each epoch with its history row.
    cancel : callable() -> bool, optional
        Polled between batches; True raises :class:`~neurofb.training.train.Cancelled`.

    Returns
    -------
    dict
        ``out_dir``, ``windows``, ``best_epoch``, ``val_auc``, ``seconds``.

    Raises
    ------
    NeurofbError
        The recordings hold one class only.
    ModelError
        The model folder is missing or tampered, or ``out_dir`` already holds a model.
    """
    from neurofb.focus.io import load_model
    from neurofb.training.model_folder import save_trained_model
    from neurofb.training.recordings import load_recordings
    from neurofb.training.train import train

    init, meta = load_model(model_dir)
    init = init.population()
    ws = load_recordings(list(recordings), sfreq=init.sfreq, window_s=init.n_times / init.sfreq)
    if len(np.unique(ws.y)) < 2:
        raise NeurofbError("the recordings hold only one class; record a calibration with both "
                           "rest and task blocks")
    result = train(ws, config=config, init=init, device=device, progress=progress, cancel=cancel)
    out = save_trained_model(
        result, ws, out_dir, data={"recordings": {"files": ws.files, "windows": len(ws)}},
        name=Path(out_dir).name,
        extra={"parent": {"path": str(model_dir), "sha256": meta["weights"]["sha256"]}},
    )
    return {"out_dir": str(out), "windows": len(ws), "best_epoch": result.best_epoch,
            "val_auc": result.best_score, "seconds": result.seconds}
