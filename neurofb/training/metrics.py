"""Classification metrics of focus scores: AUC, balanced accuracy, F1, per-subject AUC."""

from __future__ import annotations

import numpy as np


def auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of scores against labels 0/1 (NaN when only one class is present)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    return float(roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else float("nan")


def binary_metrics(y: np.ndarray, scores: np.ndarray, *, threshold: float = 0.5,
                   subjects: np.ndarray | None = None) -> dict:
    """Metrics of scores in [0, 1] against labels 0 (rest) / 1 (task).

    Parameters
    ----------
    y : array, shape (n_windows,)
        True labels.
    scores : array, shape (n_windows,)
        Focus estimates (higher = task).
    threshold : float
        Decision threshold for balanced accuracy and F1.
    subjects : array, shape (n_windows,), optional
        Subject of each window; adds ``per_subject_auc`` (mean over subjects having both
        classes) and ``per_subject`` (subject → AUC).

    Returns
    -------
    dict
        ``auc`` (NaN when only one class is present), ``balanced_accuracy``, ``f1``,
        ``windows``, and the per-subject entries when ``subjects`` is given.
    """
    from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

    y = np.asarray(y).astype(int)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"y and scores must be 1-D of the same length, got {y.shape}, {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinite values")
    both = len(np.unique(y)) == 2
    pred = (s >= threshold).astype(int)
    out = {
        "auc": float(roc_auc_score(y, s)) if both else float("nan"),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)) if both else float("nan"),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "windows": len(y),
    }
    if subjects is not None:
        subjects = np.asarray(subjects)
        per = {}
        for subj in np.unique(subjects):
            m = subjects == subj
            if len(np.unique(y[m])) == 2:
                per[int(subj)] = float(roc_auc_score(y[m], s[m]))
        out["per_subject_auc"] = float(np.mean(list(per.values()))) if per else float("nan")
        out["per_subject"] = per
    return out
