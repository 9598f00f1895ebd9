"""Retrain a model on a user's labelled recordings: the app's "Retrain" and a one-call API.

``neurofb train --recordings ... --init MODEL --out DIR`` does the same from the command line
(with eegmat data, TensorBoard and DDP on top).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurofb.errors import NeurofbError
from neurofb.focus.model import FocusLRA
from neurofb.training.metrics import auc
from neurofb.training.train import Recipe, TrainResult, layout_masks, validation_auc
from neurofb.training.windows import FeatureSet

__all__ = ["RETRAIN_RECIPE", "held_out_auc", "improved", "retrain_from_recordings"]

#: The app's retraining: a few epochs of the shipped recipe's second stage.
RETRAIN_RECIPE = Recipe(max_epochs=10, patience=3)


def held_out_auc(result: TrainResult, parent: FocusLRA, fs: FeatureSet, *,
                 in_use: Any = None) -> tuple[float | None, float | None]:
    """The retrained cold ensemble's AUC on recordings held out from training, and the model in
    use's.

    Only members that trained on some recordings and were scored on others count: with one
    recording, the member "scored" on it trained on nothing (it is the parent's member as it
    was) while the others trained on that very recording, so nothing was held out.

    Parameters
    ----------
    result : TrainResult
        The cold ensemble's training (its ``members`` records).
    parent : FocusLRA
        The cold network retraining started from (the model in use).
    fs : FeatureSet
        The windows it was trained on (raw features).
    in_use : neurofb.focus.neural.NeuralEstimator, optional
        The model in use when it is personalised: it is scored as it runs (cold mode, through
        its personal head, on its calibration electrodes) rather than by ``parent``'s network.

    Returns
    -------
    tuple
        ``(after, before)``: the mean over those members of their best validation AUC, and of
        the parent's AUC on the same held-out recordings; ``(None, None)`` when no member was
        validated.
    """
    held = [m for m in result.members
            if m.get("n_train") and m.get("stage2", {}).get("best_val_auc") is not None]
    if not held:
        return None, None
    pos, layouts = fs.positions(), layout_masks(fs.ch_names)
    after = [m["stage2"]["best_val_auc"] for m in held]
    if in_use is None:
        before = [validation_auc(parent, fs.of_subjects(m["val_subjects"]), pos, layouts)
                  for m in held]
    else:
        bound = in_use.bind(fs.ch_names, 2.0 * 45.0)  # features given: the rate is not used
        bound.request_baseline(None, start_s=0.0)
        before = [_personal_auc(bound, fs.of_subjects(m["val_subjects"])) for m in held]
    return float(np.mean(after)), float(np.mean(before))


def _personal_auc(bound: Any, val: FeatureSet) -> float:
    """AUC of a bound personalised estimator (cold mode) on windows of all its stream's channels."""
    logit, _, _ = bound.score_features(val.X[:, bound.indices], val.t + val.window_s,
                                       window_s=val.window_s)
    return auc(val.y, logit)


def improved(report: dict) -> bool:
    """Whether a retraining was validated and did at least as well as the model it started from
    on the recordings held out from training (``val_auc`` against ``before_val_auc`` of
    :func:`retrain_from_recordings`'s report).

    Not validated (fewer than two labelled recordings) counts as not improved: the app then keeps
    the model in use.
    """
    after, before = report.get("val_auc"), report.get("before_val_auc")
    return after is not None and before is not None and float(after) >= float(before)


def retrain_from_recordings(model_dir: str | os.PathLike, recordings: Sequence[str | os.PathLike],
                            out_dir: str | os.PathLike, *, recipe: Recipe = RETRAIN_RECIPE,
                            device: str | None = "cpu",
                            progress: Callable[[dict], None] | None = None,
                            cancel: Callable[[], bool] | None = None,
                            on_skip: Callable[[str], None] | None = None) -> dict:
    """Train a model further on labelled recordings and write it as a new model folder.

    Every member of both modes starts from the model's own (its feature standardisation is
    kept) and the whole network is fine-tuned (stage 2 of the recipe), early-stopped on the
    member's held-out recordings when there are enough of them. A personalised model retrains
    its population networks: the new model has no personal head (``personal_dropped``), and it
    is compared with the personalised model as it runs, head included.

    Parameters
    ----------
    model_dir : path-like
        The model to start from.
    recordings : sequence of path-like
        neurofb recordings (or folders of them) with labelled rest/task blocks.
    out_dir : path-like
        The new model folder (must not hold a model yet).
    recipe : Recipe
        Training recipe (:data:`RETRAIN_RECIPE`).
    device : str, optional
        Where to train (None: CUDA when available).
    progress : callable(dict), optional
        Called after each epoch with its row.
    cancel : callable() -> bool, optional
        Polled between batches; True raises :class:`~neurofb.training.train.Cancelled`.
    on_skip : callable(str), optional
        Told of each recording left out for want of clean labelled windows (a line naming it
        and why; :func:`~neurofb.training.recordings.load_recordings`).

    Returns
    -------
    dict
        ``out_dir``, ``windows``, ``seconds``; ``val_auc`` and ``before_val_auc``: the cold
        model's AUC on recordings held out from training, retrained and as it was
        (:func:`held_out_auc`; None with fewer than two recordings: nothing is held out);
        ``personal_dropped``: the model started from was personalised and the new one is not.

    Raises
    ------
    NeurofbError
        The recordings hold one class only.
    ModelError
        The model folder is missing or tampered, or ``out_dir`` already holds a model.
    """
    from neurofb.focus.io import load_model
    from neurofb.focus.neural import load_estimator
    from neurofb.training.model_folder import save_trained_models
    from neurofb.training.procedure import train_modes
    from neurofb.training.recordings import load_recordings

    init, meta = load_model(model_dir)
    window_s = float(meta["input"].get("window_s", 2.0))
    fs = load_recordings(list(recordings), window_s=window_s, on_skip=on_skip)
    if len(np.unique(fs.y)) < 2:
        raise NeurofbError("the recordings hold only one class; record a calibration with both "
                           "rest and task blocks")
    baseline_s = float(meta.get("baseline", {}).get("baseline_s", 60.0))
    results = train_modes(fs, recipe=recipe, baseline_s=baseline_s, init=init, device=device,
                          progress=progress, cancel=cancel)
    # what the parent learnt from is in this model too (evaluation checks train/test overlap)
    data = {"recordings": {"files": fs.files, "windows": len(fs)},
            "parent": meta.get("training", {}).get("data", {})}
    out = save_trained_models(
        results, fs, out_dir, data=data, name=Path(out_dir).name, baseline_s=baseline_s,
        extra={"parent": {"path": str(Path(model_dir).resolve()), "name": meta.get("name"),
                          "sha256": meta["weights"]["sha256"]}})
    personal = bool(meta.get("personal"))
    in_use = load_estimator(model_dir) if personal else None
    after, before = held_out_auc(results["cold"], init["cold"], fs, in_use=in_use)
    return {"out_dir": str(out), "windows": len(fs),
            "seconds": sum(r.seconds for r in results.values()),
            "val_auc": after, "before_val_auc": before, "personal_dropped": personal}
