"""Repeated leave-subjects-out cross-validation of the whole shipping procedure.

For every fold seed and every fold (:func:`neurofb.training.evaluate.subject_folds`), on the
training subjects only: the feature standardisation, the CV-bagged ensembles of both modes with
their early stopping (:func:`neurofb.training.procedure.train_modes`), the LR scalers, the
deviation control's ``C``. The fold's model is written as a model folder (its ONNX graphs) and
loaded as the engine loads it; the held-out people are then scored in every mode by every
method through :func:`neurofb.training.evaluate.score_layout` — the engine's own estimator.

The out-of-fold scores are kept per (seed, mode, method, layout);
:mod:`neurofb.training.cv_report` turns them into the tables.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from neurofb.focus.baseline import BASELINE_S
from neurofb.training.evaluate import score_layout, subject_folds
from neurofb.training.layouts import LAYOUTS
from neurofb.training.train import Recipe
from neurofb.training.windows import FeatureSet

__all__ = ["cross_validate", "score_key"]


def score_key(seed: int, mode: str, method: str, layout: str) -> str:
    """The name of one out-of-fold score array: ``seed|mode|method|layout``."""
    return f"{seed}|{mode}|{method}|{layout}"


def _fold(fs: FeatureSet, test: list[int], *, recipe: Recipe, baseline_s: float,
          modes: Sequence[str], layouts: Sequence[str], workdir: Path, seed: int,
          put: Callable[[str, np.ndarray, np.ndarray], None], device: str | None = None) -> dict:
    """Train on the fold's training subjects, score its test subjects; the fold's record."""
    from neurofb.focus.neural import load_estimator
    from neurofb.training.model_folder import save_trained_models
    from neurofb.training.procedure import train_modes

    te_mask = np.isin(fs.subject, test)
    tr, te = fs.take(~te_mask), fs.take(te_mask)
    results = train_modes(tr, recipe=recipe, baseline_s=baseline_s, device=device)
    folder = save_trained_models(results, tr, workdir / "model", data={}, name="fold",
                                 baseline_s=baseline_s, overwrite=True)
    estimator = load_estimator(folder)
    rows = np.flatnonzero(te_mask)
    t0 = time.perf_counter()
    for mode in modes:
        for layout in layouts:
            res = score_layout(estimator, tr, te, layout, mode, baseline_s=baseline_s)
            for method, scores in res.by_method.items():
                put(score_key(seed, mode, method, layout), rows[res.index], scores)
    return {"test": test, "train_seconds": {m: round(r.seconds, 1) for m, r in results.items()},
            "score_seconds": round(time.perf_counter() - t0, 1),
            "epochs": {m: [(i.get("stage1", {}).get("best_epoch"),
                            i.get("stage2", {}).get("best_epoch")) for i in r.members]
                       for m, r in results.items()}}


def cross_validate(fs: FeatureSet, *, n_folds: int = 6, seeds: Sequence[int] = (0, 1, 2),
                   recipe: Recipe = Recipe(), baseline_s: float = BASELINE_S,
                   modes: Sequence[str] = ("cold", "baseline", "calibrated"),
                   layouts: Sequence[str] = LAYOUTS,
                   progress: Callable[[str], None] | None = None,
                   device: str | None = None) -> dict:
    """Repeated K-fold leave-subjects-out CV of the model against the baselines, every mode.

    Parameters
    ----------
    fs : FeatureSet
        Windows of every subject (eegmat, with BrainFlow concentration per layout).
    n_folds : int
        Folds per seed (subjects split into disjoint groups).
    seeds : sequence of int
        Fold seeds: each gives another split (``n_folds · len(seeds)`` folds in all).
    recipe : Recipe
        The shipping recipe (trained in every fold, unchanged).
    baseline_s : float
        Baseline mode's rest, seconds.
    modes : sequence of str
        Among ``cold``, ``baseline``, ``calibrated``.
    layouts : sequence of str
        Among ``full``, ``cyton``, ``muse``.
    progress : callable(str), optional
        Called with a line per finished fold.
    device : str, optional
        Torch device the folds' models train on (default: a GPU when there is one).

    Returns
    -------
    dict
        ``protocol``, ``folds`` (one record per fold: seed, fold, test subjects, seconds) and
        ``scores``: out-of-fold score arrays (n_windows,) by :func:`score_key` (NaN where a
        window was not scored).
    """
    scores: dict[str, np.ndarray] = {}

    def put(key: str, rows: np.ndarray, values: np.ndarray) -> None:
        scores.setdefault(key, np.full(len(fs), np.nan))[rows] = values

    folds = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neurofb-cv-") as tmp:
        for seed in seeds:
            for k, test in enumerate(subject_folds(fs.subjects, n_folds, seed)):
                t0 = time.perf_counter()
                row = _fold(fs, test, recipe=recipe, baseline_s=baseline_s, modes=modes,
                            layouts=layouts, workdir=Path(tmp), seed=seed, put=put,
                            device=device)
                row.update(seed=seed, fold=k, seconds=round(time.perf_counter() - t0, 1))
                folds.append(row)
                if progress is not None:
                    from neurofb.training.metrics import auc

                    te = np.isin(fs.subject, test)
                    got = {m: auc(fs.y[te], scores[score_key(seed, "cold", m, layouts[0])][te])
                           for m in ("model", "bandpower+LR")}
                    progress(f"[{time.perf_counter() - started:.0f} s] seed {seed} fold "
                             f"{k + 1}/{n_folds} test {test}: cold {layouts[0]} model "
                             f"{got['model']:.3f}, LR {got['bandpower+LR']:.3f}")
    return {"protocol": {"folds": n_folds, "seeds": list(seeds), "subjects": fs.subjects,
                         "windows": len(fs), "window_s": fs.window_s,
                         "baseline_s": baseline_s, "modes": list(modes),
                         "layouts": list(layouts), "recipe": asdict(recipe),
                         "seconds": round(time.perf_counter() - started, 1)},
            "folds": folds, "scores": scores}
