"""Baseline mode's mirror probe (a post-hoc check, not a decision input), with the shipped code.

Does the baseline-mode model read a *direction* of change, or only "different from the
baseline"? For each test person of the seed-0 folds (6-fold, the full layout), with features
re-centred on the first 60 s of rest: ``d`` = mean(task) − mean(late rest). Late-rest windows
are moved by ``−d`` ("mirror": as far from the baseline as the task, the other way) and by
``+d`` (toward the task). Each is ranked against the unmoved late rest (AUC; 0.5 = scored like
late rest). A directional model scores the mirror like rest (≈ 0.5 or below) and the shifted
windows like task; a deviation detector scores both like task.

    .venv/bin/python scripts/mirror_probe.py [EEGMAT_DIR] > .data/mirror_probe.json

About 10 minutes on one CPU core (6 baseline ensembles).
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main(eegmat: str) -> dict:
    import torch

    from neurofb.training.baselines import BandPowerLR, DeviationLR
    from neurofb.training.eegmat import load_eegmat
    from neurofb.training.evaluate import subject_folds
    from neurofb.training.metrics import auc
    from neurofb.training.modes import baseline_features
    from neurofb.training.train import Recipe, predict, train_ensemble

    torch.set_num_threads(1)
    fs = load_eegmat(eegmat, None, cache_dir=".data/cache")
    rel, scored = baseline_features(fs)
    late = (rel.y == 0) & (rel.t >= 60.0)
    pos = rel.positions()
    out: dict[str, dict[str, list[float]]] = {}
    for test in subject_folds(rel.subjects, 6, 0):
        te = np.isin(rel.subject, test)
        tr = rel.take(~te)
        model = train_ensemble(tr, recipe=Recipe(), scored=scored[~te], tag="baseline").model
        lr = BandPowerLR().fit(tr.X, tr.y)
        dev = DeviationLR().fit(tr.X, tr.y, tr.subject)
        scorers = {"FocusLRA": lambda x, m=model: predict(m.double(), x, pos)[0],
                   "band power + LR": lr.predict, "deviation control": dev.predict}
        for s in test:
            rest, task = rel.X[late & (rel.subject == s)], rel.X[(rel.y == 1) & (rel.subject == s)]
            d = task.mean(0) - rest.mean(0)
            for name, f in scorers.items():
                a, m, p, t = f(rest), f(rest - d), f(rest + d), f(task)
                zeros, ones = np.zeros(len(a)), np.ones(len(a))
                row = out.setdefault(name, {"mirror": [], "shifted": [], "task": []})
                row["mirror"].append(auc(np.r_[zeros, ones], np.r_[a, m]))
                row["shifted"].append(auc(np.r_[zeros, ones], np.r_[a, p]))
                row["task"].append(auc(np.r_[zeros, np.ones(len(t))], np.r_[a, t]))
        print(f"fold {test} done", file=sys.stderr, flush=True)
    return {"per_person_mean_auc_vs_late_rest": {
        n: {k: float(np.mean(v)) for k, v in r.items()} for n, r in out.items()}, "raw": out}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/eegmat"),
                     indent=1))
