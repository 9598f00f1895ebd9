"""Calibrated mode: fit a personal head on one person's calibration and write a model folder.

The population model is not changed: its graphs score the calibration windows, and a
class-balanced logistic regression (scikit-learn, ``C = 1``, standardised inputs) learns the
person's read-out from ``[population logit, log10 band powers of every electrode]``
(:class:`neurofb.focus.personal.PersonalHead`). Two heads are fitted: one on the cold graph's
logit, one on the baseline graph's logit with the calibration's first rest as the baseline, so
a later session uses the head of the mode it runs in. The personalised model is tied to the
calibration's electrodes.

:func:`personalise` does this from a recording with labelled rest/task blocks (``neurofb
calibrate`` and the app's Personalise button), holds back the latest 30 % of each class's
windows to report AUC before and after, and writes a new model folder: the parent's files
(unchanged, same hashes), ``personal.safetensors`` and a model.json recording the parent's hash,
the calibration data's hash and the electrodes. Nothing here needs torch.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from neurofb.errors import ModelError
from neurofb.focus.baseline import STD_FLOOR, recentre_sessions
from neurofb.focus.personal import PersonalHead, save_heads
from neurofb.focus.placement import model_stage
from neurofb.training.metrics import binary_metrics
from neurofb.training.windows import FeatureSet

__all__ = ["HEAD_C", "RECOMMENDED_S", "calibration_split", "fit_heads",
           "fit_personal_head", "hold_back", "improved", "personalise", "short_calibration"]

#: Inverse L2 strength of the personal head's logistic regression.
HEAD_C = 1.0
#: Seconds of clean signal of each class a calibration should have: the calibrated mode of
#: the model card used 30 s of rest and 20 s of task to fit, and the before/after report needs
#: windows held back on top. Less still calibrates, with a warning.
RECOMMENDED_S = 30.0


def fit_personal_head(logit: np.ndarray, feats: np.ndarray, y: np.ndarray, *,
                      c: float = HEAD_C) -> PersonalHead:
    """Fit a :class:`PersonalHead` on calibration windows (both classes needed).

    Parameters
    ----------
    logit : array, shape (n,)
        The population graph's logits of the calibration windows.
    feats : array, shape (n, n_chans, n_features)
        Their raw features (calibration electrodes).
    y : array of int, shape (n,)
        0 rest, 1 task.
    c : float
        Inverse L2 strength.
    """
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y)
    if len(np.unique(y)) != 2:
        raise ValueError("calibration needs windows of both rest and task")
    x = PersonalHead.inputs(logit, feats)
    mean, std = x.mean(0), x.std(0) + 1e-6
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    lr.fit((x - mean) / std, y)
    return PersonalHead(mean=mean, std=std, weight=lr.coef_[0].astype(np.float64),
                        bias=float(lr.intercept_[0]))


def graph_logits(bound: Any, mode: str, X: np.ndarray) -> np.ndarray:
    """Logits of one mode's graph (specialised to ``bound``'s electrodes), window by window."""
    return np.array([bound.graph(mode).run(np.ascontiguousarray(X[i : i + 1]))[0]
                     for i in range(len(X))])


def fit_heads(bound: Any, cal: FeatureSet) -> dict[str, PersonalHead]:
    """The personal heads of a bound population estimator from calibration windows.

    Parameters
    ----------
    bound : neurofb.focus.neural.BoundNeuralEstimator
        The population model bound to the calibration's electrodes (in ``cal``'s order).
    cal : FeatureSet
        One person's calibration windows (rest and task), raw features.

    Returns
    -------
    dict
        ``{"cold": head}``, and ``"baseline"`` (its rest windows re-centring the features)
        when the model has a baseline graph and there are at least 2 rest windows.
    """
    if tuple(cal.ch_names) != tuple(bound.electrodes):
        raise ValueError(f"calibration electrodes {cal.ch_names} differ from the bound "
                         f"model's {bound.electrodes}")
    heads = {"cold": fit_personal_head(graph_logits(bound, "cold", cal.X), cal.X, cal.y)}
    rest = cal.y == 0
    if "baseline" in bound.modes and rest.sum() >= 2:
        rel = recentre_sessions(cal.X, np.zeros(len(cal)), rest)
        heads["baseline"] = fit_personal_head(graph_logits(bound, "baseline", rel), cal.X,
                                              cal.y)
    return heads


def hold_back(fs: FeatureSet, fraction: float = 0.3) -> tuple[FeatureSet, FeatureSet]:
    """Split windows into (calibration, held back): the last ``fraction`` of each class in time.

    Windows straddling the cut are dropped so the two parts share no samples.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    cal = np.zeros(len(fs), bool)
    held = np.zeros(len(fs), bool)
    for key in {(int(s), int(c)) for s, c in zip(fs.subject, fs.y, strict=True)}:
        sel = (fs.subject == key[0]) & (fs.y == key[1])
        order = np.sort(fs.t[sel])
        cut = order[int(np.floor((1 - fraction) * len(order)))] if len(order) > 1 else np.inf
        cal |= sel & (fs.t + fs.window_s <= cut + 1e-9)
        held |= sel & (fs.t >= cut - 1e-9)
    return fs.take(cal), fs.take(held)


def _copy_parent(model_dir: Path, meta: dict[str, Any], out: Path) -> None:
    """The parent's weights and graphs, byte for byte (their hashes stay valid)."""
    from neurofb.focus.card import GRAPH_FILES

    files = [meta["weights"].get("file", "weights.safetensors")]
    files += [GRAPH_FILES[m] for m in meta["architecture"].get("modes", ["cold"])]
    for name in files:
        shutil.copyfile(model_dir / name, out / name)
        os.chmod(out / name, 0o644)


def calibration_split(data: FeatureSet, fraction: float = 0.3
                      ) -> tuple[FeatureSet, FeatureSet]:
    """:func:`hold_back`, after checking there are enough clean windows of each class to fit a
    head and hold some back (a dead recording, flat or railed, has none: the quality check of
    :func:`neurofb.training.recordings.recording_windows` left its windows out).

    Raises
    ------
    ModelError
        Too few clean windows of rest or of task, saying why (what is also what the app says
        of a calibration before it is personalised).
    """
    from neurofb.training.recordings import left_out

    cal, held = hold_back(data, fraction)
    if len(np.unique(cal.y)) == 2 and len(np.unique(held.y)) == 2:
        return cal, held
    counts = [int((data.y == c).sum()) for c in (0, 1)]
    name = " ".join(str(f.get("file")) for f in data.files) or "the recording"
    gone = left_out(data.files)
    if gone:
        raise ModelError(f"too few clean windows of both rest and task to calibrate and hold "
                         f"some back: {name} has {counts[0]} of rest and {counts[1]} of task; "
                         f"the quality check left out {gone}: check the electrodes' contact "
                         "and record the calibration again")
    if min(counts) == 0:
        raise ModelError(f"calibration needs both rest and task blocks in the recording; "
                         f"{name} has {counts[0]} windows of rest and {counts[1]} of task")
    raise ModelError(f"the calibration blocks are too short to fit a head and hold some "
                     f"windows back for the before/after report ({counts[0]} windows of rest, "
                     f"{counts[1]} of task): record at least {RECOMMENDED_S:g} s of rest "
                     f"and {RECOMMENDED_S:g} s of task")


def _covered_s(starts: np.ndarray, window_s: float) -> float:
    """Seconds of signal the windows starting at ``starts`` cover (their union)."""
    t = np.sort(np.asarray(starts, dtype=float))
    if not t.size:
        return 0.0
    return float(np.minimum(np.diff(t), window_s).sum() + window_s)


def short_calibration(data: FeatureSet) -> str:
    """A warning when a calibration's clean windows of rest or of task cover less than
    :data:`RECOMMENDED_S` seconds ("" otherwise): it still calibrates, but the head is fitted
    on few windows and the before/after figures rest on fewer still."""
    y = np.asarray(data.y)
    covered = [_covered_s(np.asarray(data.t)[y == c], data.window_s) for c in (0, 1)]
    if min(covered) >= RECOMMENDED_S - 1e-6:
        return ""
    counts = [int((y == c).sum()) for c in (0, 1)]
    return (f"a short calibration: {covered[0]:.0f} s of clean rest and {covered[1]:.0f} s of "
            f"task ({counts[0]} and {counts[1]} windows); the personal head is fitted on few "
            f"windows and the before/after figures rest on fewer still. Record at least "
            f"{RECOMMENDED_S:g} s of each for a head to trust")


def improved(report: dict[str, Any]) -> bool:
    """Whether a personalisation did at least as well as the population model on the windows it
    held back (AUC, cold mode: ``after`` against ``before`` of :func:`personalise`'s report).

    A personal head that does worse there usually means the calibration's blocks were not
    followed (or the signal changed during it); the app then keeps the model in use.
    """
    return float(report["after"]["auc"]) >= float(report["before"]["auc"])


def personalise(model_dir: str | os.PathLike, recording_or_windows: object,
                out_dir: str | os.PathLike, *, hold_back_fraction: float = 0.3,
                overwrite: bool = False) -> dict[str, Any]:
    """Fit a model folder's personal heads to one person and write the personalised folder.

    Parameters
    ----------
    model_dir : path-like
        The population model to start from.
    recording_or_windows : path-like, Recording or FeatureSet
        A calibration recording (with labelled rest/task blocks) or its windows.
    out_dir : path-like
        New model folder: new or empty, or holding a model with ``overwrite``
        (:func:`neurofb.focus.card.check_model_out`).
    hold_back_fraction : float
        Share of each class's windows (the latest) kept out of calibration for the report.
    overwrite : bool
        Replace a model already in ``out_dir``.

    Returns
    -------
    dict
        ``before`` and ``after`` metrics on the held-back windows (cold mode; ``after_baseline``
        with the baseline head), ``seconds``, ``windows``, ``held_back``, ``electrodes``,
        ``out_dir``, and ``notes``: warnings for the user (a short calibration,
        :func:`short_calibration`).

    Raises
    ------
    ModelError
        A personalised model given as the parent, a recording without both classes, too few
        clean windows of rest or of task to hold some back (blocks too short, or windows the
        quality check left out), or an ``out_dir`` that holds a model (or other files).
    """
    from neurofb.focus.card import check_model_out, read_meta
    from neurofb.focus.io import write_meta
    from neurofb.focus.neural import load_estimator
    from neurofb.training.recordings import recording_windows

    t0 = time.perf_counter()
    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    if meta.get("personal"):
        raise ModelError(f"{model_dir} is already personalised; calibrate the population model "
                         "it came from (model.json: parent)")
    out = Path(out_dir)
    check_model_out(out, overwrite=overwrite)
    data = recording_or_windows
    if isinstance(data, str | os.PathLike):
        from neurofb.recording.formats import open_recording

        data = open_recording(data)
    if not isinstance(data, FeatureSet):
        data = recording_windows(data, window_s=float(meta["input"].get("window_s", 2.0)))
    cal, held = calibration_split(data, hold_back_fraction)
    notes = [n for n in (short_calibration(data),) if n]
    # the windows come as features: the stream rate bind asks for is not used here
    bound = load_estimator(model_dir).bind(cal.ch_names, 2.0 * 45.0)
    heads = fit_heads(bound, cal)
    cold_held = graph_logits(bound, "cold", held.X)
    before = binary_metrics(held.y, 1 / (1 + np.exp(-cold_held)))
    after = binary_metrics(held.y, 1 / (1 + np.exp(-heads["cold"].predict_logit(cold_held,
                                                                                 held.X))))
    report = {"before": before, "after": after}
    if "baseline" in heads:
        rest = cal.X[cal.y == 0]
        rel = (held.X - rest.mean(0)) / (rest.std(0) + STD_FLOOR)
        base = heads["baseline"].predict_logit(graph_logits(bound, "baseline", rel), held.X)
        report["after_baseline"] = binary_metrics(held.y, 1 / (1 + np.exp(-base)))
    seconds = time.perf_counter() - t0
    new_meta = {k: v for k, v in meta.items() if k not in ("created", "calibration", "metrics")}
    # the parent's figures (its cross-validation, …) are not this model's: kept, named so;
    # this model's own are the calibration's before/after below
    new_meta["metrics"] = {f"parent_{k}": v for k, v in (meta.get("metrics") or {}).items()}
    new_meta["created"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    new_meta["name"] = f"{meta.get('name', 'model')}-personal"
    new_meta["parent"] = {"name": meta.get("name"), "sha256": meta["weights"]["sha256"],
                          "path": str(model_dir)}
    new_meta["input"] = {**meta["input"], "personal_electrodes": list(cal.ch_names)}
    new_meta["personal"] = {"electrodes": list(cal.ch_names), "c": HEAD_C,
                            "inputs": "[population logit, log10 band powers of each electrode]"}
    new_meta["calibration"] = {
        "method": "personal heads: class-balanced logistic regression on the population "
                  "graph's logit (cold; baseline with the calibration's rest as the baseline) "
                  "and the person's log band powers per electrode; the network unchanged",
        "data": data.files, "windows_used": len(cal), "windows_held_back": len(held),
        **report, "seconds": round(seconds, 2), "notes": notes}
    with model_stage(out, overwrite=overwrite) as stage:  # put in place whole, or not at all
        _copy_parent(model_dir, meta, stage)
        new_meta["personal"] = {**save_heads(heads, stage), **new_meta["personal"]}
        write_meta(stage, new_meta)
    return {**report, "seconds": seconds, "windows": len(cal), "held_back": len(held),
            "electrodes": list(cal.ch_names), "out_dir": str(out), "notes": notes}
