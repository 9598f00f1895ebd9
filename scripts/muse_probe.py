"""How the focus model fares on a Muse (a post-hoc check, not a decision input), with the shipped
code.

The cross-validation's Muse-like layout takes the eegmat electrodes nearest Muse's sites (T7,
Fp1, Fp2, T8), referenced like the rest of the cap (linked ears). A real Muse differs in two
ways this probe measures separately, on the seed-0 folds (6-fold; the shipped recipe, both
modes, trained on the other 20 people of each fold; every method scored in the same run):

A. **Positions.** A Muse reports TP9, AF7, AF8 and TP10, which no training window had. The
   Muse-like windows are scored under their true names and relabelled TP9, AF7, AF8, TP10: the
   same samples, at the positions a Muse reports (cold mode).
B. **A simulated Muse recording.** From each held-out person's 19 electrodes, MNE's spherical
   splines interpolate the signal at TP9, AF7, AF8, TP10 and Fpz, and the four sites are
   referenced to Fpz, as a Muse records them. These windows go through the engine's filter and
   features and are scored in the three modes. Band power + LR is trained on the training
   people's Muse-like electrodes (what a Muse user's LR would be trained on); BrainFlow
   concentration runs on the simulated windows themselves.

    .venv/bin/python scripts/muse_probe.py [EEGMAT_DIR] > .data/muse_probe.json

About 15 minutes on one CPU core (6 × both ensembles). What it cannot show: a Muse's dry
electrodes and its own noise, and sites outside the cap's coverage (TP9 and TP10 lie below T7
and T8, where the splines extrapolate).
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

#: Muse's sites, for the eegmat electrodes the Muse-like layout stands in for them.
MUSE_SITES = {"T7": "TP9", "Fp1": "AF7", "Fp2": "AF8", "T8": "TP10"}
MODES = ("cold", "baseline", "calibrated")
METHODS = {"model": "FocusLRA", "bandpower+LR": "band power + LR",
           "brainflow_concentration": "BrainFlow concentration"}


def muse_as_recorded(data: np.ndarray, sfreq: float, names: tuple[str, ...]) -> np.ndarray:
    """Muse's four sites, referenced to Fpz, spline-interpolated from a cap's electrodes (µV)."""
    import mne

    sites, extra = list(MUSE_SITES.values()), [*MUSE_SITES.values(), "Fpz"]
    info = mne.create_info(list(names) + extra, sfreq, "eeg")
    raw = mne.io.RawArray(np.vstack([data, np.zeros((len(extra), data.shape[1]))]) * 1e-6,
                          info, verbose="error")
    raw.set_montage("standard_1005", verbose="error")
    raw.info["bads"] = extra
    raw.interpolate_bads(reset_bads=True, verbose="error")
    return (raw.get_data(picks=sites) - raw.get_data(picks=["Fpz"])) * 1e6


def simulated_muse(eegmat: str, fs: object) -> object:
    """Every window of ``fs`` (eegmat, every subject) as a simulated Muse records it."""
    from neurofb.config import EngineConfig
    from neurofb.training.baselines import concentration_scores
    from neurofb.training.eegmat import _read_edf, find_subjects
    from neurofb.training.windows import (
        FeatureSet,
        concat,
        cut_features,
        filter_like_engine,
        window_starts,
        windows_at,
    )

    files, sets = find_subjects(eegmat), []
    for s in fs.subjects:  # type: ignore[attr-defined]
        offset, parts = 0.0, []
        for run, label in ((1, 0), (2, 1)):
            data, sfreq, names = _read_edf(files[int(s)][run])
            filt = filter_like_engine(muse_as_recorded(data, sfreq, names), sfreq,
                                      EngineConfig())
            starts = window_starts(filt.shape[1], sfreq, window_s=2.0, hop_s=1.0)
            bf = np.concatenate([
                concentration_scores(windows_at(filt, sfreq, b, window_s=2.0), sfreq)
                for b in np.array_split(starts, max(1, starts.size // 256))])
            n = len(starts)
            parts.append(FeatureSet(
                X=cut_features(filt, sfreq, starts, window_s=2.0),
                y=np.full(n, label, np.int64), subject=np.full(n, int(s), np.int64),
                t=offset + starts / sfreq, ch_names=tuple(MUSE_SITES.values()),
                brainflow={"full": bf}))
            offset += filt.shape[1] / sfreq
        sets.append(concat(parts))
    sim = concat(sets)
    for key in ("y", "subject", "t"):
        if not np.array_equal(getattr(sim, key), getattr(fs, key)):
            raise RuntimeError(f"simulated windows do not line up with the cached ones ({key})")
    return sim


def _summary(fs: object, values: np.ndarray, folds: list[list[int]]) -> dict:
    from neurofb.training.evaluate import metrics_of

    per_fold = []
    for t in folds:
        m = np.isin(fs.subject, t) & np.isfinite(values)  # type: ignore[attr-defined]
        per_fold.append(metrics_of(fs.y[m], values[m], fs.subject[m]))  # type: ignore[attr-defined]
    aucs = [p["auc"] for p in per_fold]
    people = {int(s): a for p in per_fold for s, a in p["per_subject"].items()}
    return {"auc_mean": float(np.mean(aucs)), "auc_sd": float(np.std(aucs, ddof=1)),
            "balanced_accuracy_mean": float(np.mean([p["balanced_accuracy"] for p in per_fold])),
            "per_person_auc_mean": float(np.mean(list(people.values()))),
            "inverted": int(sum(a < 0.5 for a in people.values())),
            "fold_auc": aucs, "per_person": people}


def main(eegmat: str) -> dict:
    import torch

    from neurofb.focus.neural import load_estimator
    from neurofb.training.eegmat import load_eegmat
    from neurofb.training.evaluate import score_layout, subject_folds
    from neurofb.training.layouts import layout_channels
    from neurofb.training.model_folder import save_trained_models
    from neurofb.training.procedure import train_modes

    torch.set_num_threads(1)
    fs = load_eegmat(eegmat, None, cache_dir=".data/cache")
    sim = simulated_muse(eegmat, fs)
    print("simulated Muse windows ready", file=sys.stderr, flush=True)
    muse_like = layout_channels(fs.ch_names, "muse")
    scores: dict[str, np.ndarray] = {}

    def put(name: str, rows: np.ndarray, values: np.ndarray) -> None:
        scores.setdefault(name, np.full(len(fs), np.nan))[rows] = values

    def as_sites(part: object) -> object:
        four = part.pick(muse_like)  # type: ignore[attr-defined]
        return replace(four, ch_names=tuple(MUSE_SITES[c] for c in four.ch_names),
                       brainflow={"full": four.brainflow["muse"]})

    folds = subject_folds(fs.subjects, 6, 0)
    with tempfile.TemporaryDirectory(prefix="neurofb-muse-probe-") as tmp:
        for k, test in enumerate(folds):
            te_mask = np.isin(fs.subject, test)
            tr, te = fs.take(~te_mask), fs.take(te_mask)
            folder = save_trained_models(train_modes(tr), tr, Path(tmp) / f"fold{k}",
                                         data={}, name="probe")
            estimator = load_estimator(folder)
            rows = np.flatnonzero(te_mask)
            res = score_layout(estimator, tr, te, "muse", "cold")
            put("A|FocusLRA, Muse-like electrodes", rows[res.index], res.by_method["model"])
            put("A|band power + LR, Muse-like electrodes", rows[res.index],
                res.by_method["bandpower+LR"])
            res = score_layout(estimator, None, as_sites(te), "full", "cold")
            put("A|FocusLRA, the same samples at Muse's sites", rows[res.index],
                res.by_method["model"])
            for mode in MODES:
                res = score_layout(estimator, as_sites(tr), sim.take(te_mask), "full", mode)
                for key, label in METHODS.items():
                    put(f"B|{mode}|{label}", rows[res.index], res.by_method[key])
            print(f"fold {k + 1}/{len(folds)} done", file=sys.stderr, flush=True)
    out: dict[str, dict] = {name: _summary(fs, v, folds) for name, v in scores.items()}
    names_auc = np.array(out["A|FocusLRA, Muse-like electrodes"]["fold_auc"])
    sites_auc = np.array(out["A|FocusLRA, the same samples at Muse's sites"]["fold_auc"])
    out["A|paired delta AUC, Muse's sites minus Muse-like names"] = {
        "mean": float(np.mean(sites_auc - names_auc)),
        "sd": float(np.std(sites_auc - names_auc, ddof=1))}
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/eegmat"),
                     indent=1))
