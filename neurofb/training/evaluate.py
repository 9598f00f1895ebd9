"""Honest evaluation: the focus model against the baselines, on the same windows, unseen people.

:func:`score_layout` scores one layout's test windows in one operating mode
(:mod:`neurofb.training.modes`) by every method, the model through the very code the engine
runs (:class:`neurofb.focus.neural.BoundNeuralEstimator`: ONNX Runtime, one window at a time,
the causal session baseline, the personal heads):

- ``model`` — the focus model (calibrated mode: the baseline graph with the calibration's rest
  as the baseline, plus the personal head fitted on the calibration windows);
- ``model_cold_head`` — calibrated mode only: the cold graph plus its personal head;
- ``bandpower+LR`` — band powers + logistic regression, trained on the training subjects (on
  re-centred band powers in baseline mode; per person on the calibration windows in calibrated
  mode);
- ``deviation_control`` — baseline mode only: :class:`~neurofb.training.baselines.DeviationLR`,
  which can only tell "different from the baseline";
- ``brainflow_concentration`` — BrainFlow's p(MINDFULNESS), no adaptation.

:func:`compare` turns that into metrics per layout and method (the owners' held-out check,
``neurofb evaluate --model … --json``); :mod:`neurofb.training.cv` runs the whole shipping
procedure inside repeated leave-subjects-out folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neurofb.focus.baseline import BASELINE_S
from neurofb.focus.runtime import sigmoid
from neurofb.training.baselines import BandPowerLR, DeviationLR
from neurofb.training.layouts import LAYOUTS, layout_channels
from neurofb.training.metrics import binary_metrics
from neurofb.training.modes import baseline_features, calibration_masks
from neurofb.training.windows import FeatureSet

__all__ = ["METHODS", "Scores", "compare", "late_rest_analysis", "metrics_of", "score_layout",
           "subject_folds"]

#: Every method a report may hold, in the order tables list them.
METHODS = ("model", "model_cold_head", "bandpower+LR", "deviation_control",
           "brainflow_concentration")


def subject_folds(subjects: Sequence[int], n_folds: int, seed: int = 0) -> list[list[int]]:
    """Split subjects into ``n_folds`` disjoint folds (seeded shuffle, sizes differ by ≤ 1)."""
    subjects = sorted(int(s) for s in subjects)
    if not 2 <= n_folds <= len(subjects):
        raise ValueError(f"need 2 <= folds <= number of subjects ({len(subjects)}), "
                         f"got {n_folds}")
    perm = np.random.default_rng(seed).permutation(subjects)
    return [sorted(int(s) for s in f) for f in np.array_split(perm, n_folds)]


@dataclass(frozen=True)
class Scores:
    """One layout's scores in one mode: which test windows were scored, and by what.

    Parameters
    ----------
    index : array of int
        Indices of the scored windows in the test set.
    by_method : dict of str to array
        Each method's focus (probability of task) for those windows.
    """

    index: np.ndarray
    by_method: dict[str, np.ndarray]


def _session_scores(bound: object, te: FeatureSet, rows: np.ndarray) -> np.ndarray:
    """The engine's logits for one session's windows, fed in time order from a fresh start."""
    perm = np.argsort(te.t[rows], kind="stable")
    order = rows[perm]
    bound.reset()  # type: ignore[attr-defined]
    logits, _, _ = bound.score_features(  # type: ignore[attr-defined]
        te.X[order], te.t[order] + te.window_s, window_s=te.window_s)
    out = np.empty(len(rows))
    out[perm] = logits
    return out


def _model_scores(estimator: object, te: FeatureSet) -> np.ndarray:
    """The model's focus of every window, session by session (the estimator's mode)."""
    bound = estimator.bind(te.ch_names, 2.0 * 45.0)  # type: ignore[attr-defined]
    focus = np.empty(len(te))
    for s in te.subjects:
        rows = np.flatnonzero(te.subject == s)
        focus[rows] = sigmoid(_session_scores(bound, te, rows))
    return focus


def _with_baseline(estimator: object, baseline_s: float) -> object:
    from neurofb.focus.neural import NeuralEstimator

    est = estimator
    return NeuralEstimator(est.networks, est.meta,  # type: ignore[attr-defined]
                           model_dir=est.model_dir,  # type: ignore[attr-defined]
                           baseline_s=baseline_s, heads=est.heads)  # type: ignore[attr-defined]


def _cold(estimator: object, tr: FeatureSet | None, te: FeatureSet, layout: str) -> Scores:
    out = {"model": _model_scores(_with_baseline(estimator, 0.0), te),
           "brainflow_concentration": te.brainflow[layout]}
    if tr is not None and len(tr):
        out["bandpower+LR"] = BandPowerLR().fit(tr.X, tr.y).predict(te.X)
    return Scores(np.arange(len(te)), out)


def _baseline(estimator: object, tr: FeatureSet | None, te: FeatureSet, layout: str,
              baseline_s: float) -> Scores:
    te_rel, scored = baseline_features(te, baseline_s)
    kept = np.flatnonzero(np.isin(te.subject, te_rel.subjects))
    focus = _model_scores(_with_baseline(estimator, baseline_s), te.take(kept))
    index = kept[scored]
    out = {"model": focus[scored], "brainflow_concentration": te.brainflow[layout][index]}
    if tr is not None and len(tr):
        tr_rel, _ = baseline_features(tr, baseline_s)
        out["bandpower+LR"] = BandPowerLR().fit(tr_rel.X, tr_rel.y).predict(te_rel.X[scored])
        dev = DeviationLR().fit(tr_rel.X, tr_rel.y, tr_rel.subject)
        out["deviation_control"] = dev.predict(te_rel.X[scored])
    return Scores(index, out)


def _calibrated(estimator: object, te: FeatureSet, layout: str) -> Scores:
    from neurofb.focus.baseline import STD_FLOOR
    from neurofb.training.personalise import fit_heads, graph_logits

    cal, scored = calibration_masks(te)
    bound = _with_baseline(estimator, 0.0).bind(  # type: ignore[attr-defined]
        te.ch_names, 2.0 * 45.0)
    index = np.flatnonzero(scored)
    out = {k: np.empty(len(index)) for k in ("model", "model_cold_head", "bandpower+LR")}
    for s in te.subjects:
        c = te.take(cal & (te.subject == s))
        rows = np.flatnonzero(te.subject[index] == s)
        sc = te.take(index[rows])
        heads = fit_heads(bound, c)
        rest = c.X[c.y == 0]
        rel = (sc.X - rest.mean(0)) / (rest.std(0) + STD_FLOOR)
        base = heads["baseline"].predict_logit(graph_logits(bound, "baseline", rel), sc.X)
        cold = heads["cold"].predict_logit(graph_logits(bound, "cold", sc.X), sc.X)
        out["model"][rows] = sigmoid(base)
        out["model_cold_head"][rows] = sigmoid(cold)
        out["bandpower+LR"][rows] = BandPowerLR().fit(c.X, c.y).predict(sc.X)
    out["brainflow_concentration"] = te.brainflow[layout][index]
    return Scores(index, out)


def score_layout(estimator: object, train: FeatureSet | None, test: FeatureSet, layout: str,
                 mode: str, *, baseline_s: float = BASELINE_S) -> Scores:
    """Every method's scores of one layout's test windows in one operating mode.

    Parameters
    ----------
    estimator : neurofb.focus.neural.NeuralEstimator
        The population model (a folder loaded with :func:`neurofb.focus.neural.load_estimator`).
    train : FeatureSet or None
        The training subjects' windows, for the band power + LR baseline and the deviation
        control (None: skip them; calibrated mode fits its LR per person).
    test : FeatureSet
        The evaluated people's windows (all electrodes; the layout picks).
    layout : str
        ``full``, ``cyton`` or ``muse`` (:mod:`neurofb.training.layouts`).
    mode : {"cold", "baseline", "calibrated"}
        The operating mode (:mod:`neurofb.training.modes`).
    baseline_s : float
        Baseline mode's rest, in seconds.
    """
    chans = layout_channels(test.ch_names, layout)
    te = test.pick(chans)
    tr = train.pick(chans) if train is not None else None
    if mode == "cold":
        return _cold(estimator, tr, te, layout)
    if mode == "baseline":
        return _baseline(estimator, tr, te, layout, baseline_s)
    if mode == "calibrated":
        return _calibrated(estimator, te, layout)
    raise ValueError(f"mode must be cold, baseline or calibrated, got {mode!r}")


def metrics_of(y: np.ndarray, scores: np.ndarray, subjects: np.ndarray) -> dict:
    """:func:`binary_metrics` with ``per_subject`` and the count of people it ``inverted``
    (per-person AUC below 0.5)."""
    m = binary_metrics(y, scores, subjects=subjects)
    m["inverted"] = int(sum(v < 0.5 for v in m["per_subject"].values()))
    return m


def compare(estimator: object, train: FeatureSet | None, test: FeatureSet, *,
            layouts: Sequence[str] = ("full",), mode: str = "cold",
            baseline_s: float = BASELINE_S) -> dict:
    """The model and the baselines on the same test windows, per layout.

    Returns
    -------
    dict
        ``{layout: {"channels": [...], "windows_scored": n, method: metrics}}`` with metrics
        from :func:`metrics_of` (``auc``, ``balanced_accuracy`` at 0.5, ``f1``,
        ``per_subject_auc``, ``per_subject``, ``inverted``, ``windows``).
    """
    out: dict[str, dict] = {}
    for layout in layouts:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; choose {LAYOUTS}")
        res = score_layout(estimator, train, test, layout, mode, baseline_s=baseline_s)
        y, subj = test.y[res.index], test.subject[res.index]
        row: dict = {"channels": list(layout_channels(test.ch_names, layout))}
        for method in METHODS:
            if method in res.by_method:
                row[method] = metrics_of(y, res.by_method[method], subj)
        if mode == "baseline":
            row["late_rest"] = late_rest_analysis(test, res, baseline_s)
        out[layout] = row
    return out


def late_rest_analysis(test: FeatureSet, res: Scores, baseline_s: float = BASELINE_S) -> dict:
    """Baseline mode: how late rest (after the baseline) ranks against task, per method.

    eegmat's rest and task are separate recordings, so a detector of "different from the
    baseline" scores task well too. ``auc_late_rest_vs_task`` is the pooled AUC of task
    against the rest windows after the baseline; ``drift_auc`` the per-person AUC of rest
    120–180 s against rest 60–120 s (0.5: no creep over time); ``late_rest_above`` and
    ``task_above`` the fractions scored ≥ 0.5; ``mean_late_rest`` and ``mean_task`` the mean
    focus.
    """
    from neurofb.training.metrics import auc

    t, y, subj = test.t[res.index], test.y[res.index], test.subject[res.index]
    late = (y == 0) & (t >= baseline_s)
    task = y == 1
    out = {}
    for method, s in res.by_method.items():
        sel = late | task
        drift = []
        for sj in np.unique(subj):
            a = late & (subj == sj) & (t < 2 * baseline_s)
            b = late & (subj == sj) & (t >= 2 * baseline_s)
            if a.sum() > 5 and b.sum() > 5:
                drift.append(auc(np.r_[np.zeros(a.sum()), np.ones(b.sum())], np.r_[s[a], s[b]]))
        out[method] = {
            "auc_late_rest_vs_task": auc(y[sel], s[sel]),
            "drift_auc": float(np.mean(drift)) if drift else float("nan"),
            "late_rest_above": float((s[late] >= 0.5).mean()) if late.any() else float("nan"),
            "task_above": float((s[task] >= 0.5).mean()) if task.any() else float("nan"),
            "mean_late_rest": float(s[late].mean()) if late.any() else float("nan"),
            "mean_task": float(s[task].mean()) if task.any() else float("nan"),
        }
    return out

