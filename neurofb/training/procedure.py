"""The shipping procedure: both operating modes' ensembles, trained the same way every time.

``neurofb train``, every fold of ``neurofb evaluate --cv`` and the app's retraining all call
:func:`train_modes`: the cold ensemble on the windows' raw features, the baseline ensemble on
the same windows re-centred on each session's first ``baseline_s`` seconds of rest
(:func:`neurofb.training.modes.baseline_features`), early-stopped on the windows baseline mode
scores (not the baseline itself).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from neurofb.focus.baseline import BASELINE_S
from neurofb.focus.model import FocusLRA
from neurofb.training.modes import baseline_features
from neurofb.training.train import Recipe, TrainResult, check_members, train_ensemble
from neurofb.training.windows import FeatureSet

__all__ = ["MODES", "check_training", "train_modes"]

#: The modes a model folder serves, in training order.
MODES = ("cold", "baseline")


def _plan(fs: FeatureSet, *, recipe: Recipe, baseline_s: float,
          init: dict[str, FocusLRA] | None
          ) -> tuple[Recipe, dict[str, tuple[FeatureSet, np.ndarray | None]]]:
    """The recipe and each mode's (windows, scored) to train, every member checked."""
    if init is not None:  # a retrained network keeps its parent's size (and the modes agree)
        hp = init["cold"].hparams
        recipe = replace(recipe, **{k: hp[k] for k in ("n_members", "d_model", "n_heads",
                                                        "n_layers", "dropout")})
    try:
        inputs = {"cold": (fs, None), "baseline": baseline_features(fs, baseline_s)}
    except ValueError:
        if init is None or "baseline" not in init:
            raise
        inputs = {"cold": (fs, None)}  # no session starts with rest: keep the parent's
    else:
        scored = inputs["baseline"][1]
        if init is not None and "baseline" in init and not scored.any():
            del inputs["baseline"]  # nothing after the rest to learn from: keep the parent's
    for mode, (data, sc) in inputs.items():
        what = (f" after each session's first {baseline_s:g} s of rest (baseline mode: record "
                "rest beyond the baseline, or shorten it with --baseline)"
                if mode == "baseline" else "")
        check_members(data, recipe, scored=sc, retrain=init is not None, what=what)
    return recipe, inputs


def check_training(fs: FeatureSet, *, recipe: Recipe = Recipe(),
                   baseline_s: float = BASELINE_S,
                   init: dict[str, FocusLRA] | None = None) -> None:
    """Check, before anything is trained, that :func:`train_modes` can train both modes.

    Parameters
    ----------
    fs, recipe, baseline_s, init
        As :func:`train_modes`.

    Raises
    ------
    ValueError
        As :func:`train_modes` would, before its first epoch.
    """
    _plan(fs, recipe=recipe, baseline_s=baseline_s, init=init)


def train_modes(fs: FeatureSet, *, recipe: Recipe = Recipe(), baseline_s: float = BASELINE_S,
                init: dict[str, FocusLRA] | None = None, device: str | None = None,
                logdir: str | os.PathLike | None = None,
                checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
                progress: Callable[[dict], None] | None = None,
                cancel: Callable[[], bool] | None = None) -> dict[str, TrainResult]:
    """Train the cold and the baseline ensemble on the same windows.

    Parameters
    ----------
    fs : FeatureSet
        The training windows (raw features).
    recipe : Recipe
        The recipe (both modes); with ``init``, the network size (members, width, heads,
        layers, dropout) is the parent's.
    baseline_s : float
        Baseline mode's rest at the start of each session, seconds.
    init : dict of str to FocusLRA, optional
        Networks to retrain from, by mode (:func:`neurofb.focus.io.load_model`).
    device, logdir, progress, cancel
        As :func:`neurofb.training.train.train_ensemble`.
    checkpoint_dir : path-like, optional
        Resumable checkpoints, one subfolder per mode.
    resume : bool
        Continue from them (a finished mode's checkpoint gives its ensemble back at once).

    Returns
    -------
    dict
        ``{"cold": TrainResult, "baseline": TrainResult}``. When no session of the data starts
        with ``baseline_s`` of rest (recordings that begin with a task block) or none goes on
        after it (nothing for baseline mode to score), and ``init`` has a baseline network,
        that network is kept as it was (and said so in ``extra``).

    Raises
    ------
    ValueError
        The data holds one class only, no session with a baseline and nothing to keep, or
        (from scratch) members of either mode that could not be trained or validated
        (:func:`neurofb.training.train.check_members`), before any training.
    """
    recipe, inputs = _plan(fs, recipe=recipe, baseline_s=baseline_s, init=init)
    out = {}
    for mode in MODES:
        if mode not in inputs:
            out[mode] = TrainResult(  # nothing ran: no autocast either (the recipe as run)
                model=init["baseline"], recipe=replace(recipe, mixed_precision=False),  # type: ignore[index]
                members=[], seconds=0.0,
                device="cpu", extra={"note": f"kept from the parent model: no session of the "
                                             f"data starts with {baseline_s:g} s of rest and "
                                             "goes on after it"})
            continue
        data, sc = inputs[mode]
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / mode
        out[mode] = train_ensemble(
            data, recipe=recipe, scored=sc, init=None if init is None else init.get(mode),
            device=device, tag=mode, logdir=logdir, checkpoint_dir=ckpt,
            resume=resume and ckpt is not None and (ckpt / "state.json").exists(),
            progress=progress, cancel=cancel)
    return out
