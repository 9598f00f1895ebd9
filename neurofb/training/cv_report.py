"""The cross-validation's tables: fold mean ± sd, paired differences, per person, the rule.

From the out-of-fold scores of :func:`neurofb.training.cv.cross_validate`:

- per (mode, method, layout): the pooled AUC of each fold's test people, balanced accuracy at
  0.5, mean per-person AUC — mean ± sd over the folds; the AUC of all people's out-of-fold
  scores pooled (per seed, averaged); each person's AUC (mean over seeds) and the number of
  people whose mean is below 0.5 (*inverted*) and of inverted person-tests;
- the paired per-fold difference to band power + LR (mean ± sd) and LR's own fold spread;
- the pre-registered decision rule (``REPORT.md`` of exp9): a mode *wins* when, on every layout,
  the mean paired ΔAUC exceeds LR's fold spread, the mean per-person AUC is higher than LR's and
  no more people are inverted; in baseline mode the win counts as "more than deviation
  detection" only if the model also beats the deviation control by more than its spread;
- baseline mode's late rest against task (:func:`neurofb.training.evaluate.late_rest_analysis`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurofb.training.evaluate import METHODS, Scores, late_rest_analysis, metrics_of
from neurofb.training.windows import FeatureSet

__all__ = ["PRIMARY", "fold_rows", "summarise", "tables"]

#: The candidate each mode's rule judges, and the reference it is judged against.
PRIMARY = {"cold": "model", "baseline": "model", "calibrated": "model"}
REFERENCE = "bandpower+LR"


def _keys(scores: dict[str, np.ndarray]) -> set[tuple[str, str, str]]:
    return {tuple(k.split("|")[1:]) for k in scores}  # type: ignore[misc]


def fold_rows(cv: dict, fs: FeatureSet, mode: str, method: str, layout: str) -> list[dict]:
    """The metrics of one mode, method and layout in every outer fold of a cross-validation.

    Parameters
    ----------
    cv : dict
        :func:`neurofb.training.cv.cross_validate`'s result (folds and out-of-fold scores).
    fs : FeatureSet
        The windows it scored.
    mode, method, layout : str
        Which scores.

    Returns
    -------
    list of dict
        One :func:`neurofb.training.evaluate.metrics_of` row per fold that has those scores.
    """
    rows = []
    for fold in cv["folds"]:
        s = cv["scores"].get(f"{fold['seed']}|{mode}|{method}|{layout}")
        if s is None:
            continue
        m = np.isin(fs.subject, fold["test"]) & np.isfinite(s)
        if m.any():
            rows.append(metrics_of(fs.y[m], s[m], fs.subject[m])
                        | {"key": f"{fold['seed']}-{fold['fold']}"})
    return rows


def _summary(cv: dict, fs: FeatureSet, mode: str, method: str, layout: str) -> dict:
    rows = fold_rows(cv, fs, mode, method, layout)
    a = np.array([[r["auc"], r["balanced_accuracy"], r["per_subject_auc"]] for r in rows])
    per: dict[int, list[float]] = {}
    for r in rows:
        for s, v in r["per_subject"].items():
            per.setdefault(int(s), []).append(v)
    per_mean = {s: float(np.mean(v)) for s, v in sorted(per.items())}
    pooled = []
    for seed in cv["protocol"]["seeds"]:
        s = cv["scores"].get(f"{seed}|{mode}|{method}|{layout}")
        if s is not None:
            ok = np.isfinite(s)
            pooled.append(metrics_of(fs.y[ok], s[ok], fs.subject[ok])["auc"])
    return {
        "auc": float(a[:, 0].mean()), "auc_sd": float(a[:, 0].std()),
        "balanced_accuracy": float(a[:, 1].mean()), "balanced_accuracy_sd": float(a[:, 1].std()),
        "per_subject_auc": float(a[:, 2].mean()), "per_subject_auc_sd": float(a[:, 2].std()),
        "auc_pooled": float(np.mean(pooled)), "per_subject": per_mean,
        "inverted": int(sum(v < 0.5 for v in per_mean.values())),
        "inverted_tests": int(sum(r["inverted"] for r in rows)),
        "tests": int(sum(len(r["per_subject"]) for r in rows)), "n_folds": len(rows),
        "fold_auc": a[:, 0].tolist(), "fold_per_subject_auc": a[:, 2].tolist(),
        "fold_keys": [r["key"] for r in rows]}


def paired(summary: dict, mode: str, method: str, layout: str, ref: str = REFERENCE) -> dict:
    """Per-fold differences of ``method`` to ``ref`` on the folds both have: AUC and per-person
    AUC (mean, sd), and ``ref``'s own fold spread (sd of its fold AUCs)."""
    x, r = summary[mode][layout][method], summary[mode][layout][ref]
    common = [k for k in x["fold_keys"] if k in r["fold_keys"]]
    ix = [x["fold_keys"].index(k) for k in common]
    ir = [r["fold_keys"].index(k) for k in common]
    d = np.array(x["fold_auc"])[ix] - np.array(r["fold_auc"])[ir]
    dp = (np.array(x["fold_per_subject_auc"])[ix] - np.array(r["fold_per_subject_auc"])[ir])
    return {"delta_auc": float(d.mean()), "delta_auc_sd": float(d.std()),
            "delta_per_subject_auc": float(dp.mean()), "delta_per_subject_auc_sd": float(dp.std()),
            "ref_spread": float(np.array(r["fold_auc"])[ir].std()),
            "wins": int((d > 0).sum()), "folds": len(common)}


def decision(summary: dict, layouts: Sequence[str]) -> dict:
    """The pre-registered rule, per mode: ``{"win": bool, "layouts": {layout: {...}}}``."""
    out: dict = {}
    for mode, cand in PRIMARY.items():
        if mode not in summary:
            continue
        checks = {}
        for layout in layouts:
            s = summary[mode].get(layout, {})
            if cand not in s or REFERENCE not in s:
                continue
            p = paired(summary, mode, cand, layout)
            ok = (p["delta_auc"] > p["ref_spread"] and p["delta_per_subject_auc"] > 0
                  and s[cand]["inverted"] <= s[REFERENCE]["inverted"])
            row = {**p, "inverted": s[cand]["inverted"], "ref_inverted": s[REFERENCE]["inverted"],
                   "pass": bool(ok)}
            if "deviation_control" in s:
                q = paired(summary, mode, cand, layout, ref="deviation_control")
                row["vs_deviation"] = {"delta_auc": q["delta_auc"], "spread": q["ref_spread"],
                                       "beyond": bool(q["delta_auc"] > q["ref_spread"])}
            row["safe"] = not (p["delta_auc"] < -p["delta_auc_sd"])
            checks[layout] = row
        out[mode] = {"win": bool(checks) and all(c["pass"] for c in checks.values()),
                     "layouts": checks}
    return out


def _late_rest(cv: dict, fs: FeatureSet, baseline_s: float, layout: str = "full") -> dict:
    """Late rest vs task over the out-of-fold baseline-mode scores (mean over seeds)."""
    per_seed = []
    for seed in cv["protocol"]["seeds"]:
        by_method = {m: cv["scores"][f"{seed}|baseline|{m}|{layout}"] for m in METHODS
                     if f"{seed}|baseline|{m}|{layout}" in cv["scores"]}
        if not by_method:
            continue
        index = np.flatnonzero(np.isfinite(next(iter(by_method.values()))))
        res = Scores(index, {m: s[index] for m, s in by_method.items()})
        per_seed.append(late_rest_analysis(fs, res, baseline_s))
    if not per_seed:
        return {}
    return {m: {k: float(np.mean([p[m][k] for p in per_seed])) for k in per_seed[0][m]}
            for m in per_seed[0]}


def summarise(cv: dict, fs: FeatureSet) -> dict:
    """Everything the tables show, JSON-ready: ``summary[mode][layout][method]``, ``paired``,
    ``decision``, ``late_rest`` (baseline mode, full layout)."""
    proto = cv["protocol"]
    summary: dict = {}
    for mode, method, layout in sorted(_keys(cv["scores"])):
        summary.setdefault(mode, {}).setdefault(layout, {})[method] = _summary(
            cv, fs, mode, method, layout)
    pairs = {mode: {layout: {m: paired(summary, mode, m, layout) for m in row
                             if m != REFERENCE and REFERENCE in row}
                    for layout, row in by_layout.items()}
             for mode, by_layout in summary.items()}
    return {"summary": summary, "paired": pairs, "decision": decision(summary, proto["layouts"]),
            "late_rest": _late_rest(cv, fs, proto["baseline_s"])}


_NAMES = {"model": "**FocusLRA**", "model_cold_head": "FocusLRA cold + head",
          "bandpower+LR": "band power + LR", "deviation_control": "deviation control (LR on |z|)",
          "brainflow_concentration": "BrainFlow concentration"}


def tables(report: dict, subjects: Sequence[int]) -> str:
    """The report as markdown tables (what the model card shows)."""
    lines: list[str] = []
    summary, pairs = report["summary"], report["paired"]
    for mode in ("cold", "baseline", "calibrated"):
        if mode not in summary:
            continue
        lines += [f"\n### {mode}\n", "| layout | method | AUC | bal. acc | per-person AUC | "
                  "AUC pooled (all people) | Δ AUC vs LR | Δ per-person | inverted (people / "
                  "tests) |", "|---|---|---|---|---|---|---|---|---|"]
        for layout, row in summary[mode].items():
            for method in METHODS:
                if method not in row:
                    continue
                s = row[method]
                p = pairs[mode][layout].get(method)
                d = "—" if p is None else f"{p['delta_auc']:+.3f} ± {p['delta_auc_sd']:.3f}"
                dp = ("—" if p is None else
                      f"{p['delta_per_subject_auc']:+.3f} ± {p['delta_per_subject_auc_sd']:.3f}")
                lines.append(
                    f"| {layout} | {_NAMES[method]} | {s['auc']:.3f} ± {s['auc_sd']:.3f} | "
                    f"{s['balanced_accuracy']:.3f} ± {s['balanced_accuracy_sd']:.3f} | "
                    f"{s['per_subject_auc']:.3f} ± {s['per_subject_auc_sd']:.3f} | "
                    f"{s['auc_pooled']:.3f} | {d} | {dp} | {s['inverted']} / "
                    f"{s['inverted_tests']} |")
    lines.append("\n### decision rule (pre-registered)\n")
    for mode, dec in report["decision"].items():
        for layout, c in dec["layouts"].items():
            extra = ""
            if "vs_deviation" in c:
                v = c["vs_deviation"]
                extra = (f"; vs deviation control {v['delta_auc']:+.3f} (its spread "
                         f"{v['spread']:.3f}): {'beyond' if v['beyond'] else 'not beyond'} "
                         "deviation detection")
            lines.append(f"- {mode} / {layout}: ΔAUC {c['delta_auc']:+.3f} vs LR fold spread "
                         f"{c['ref_spread']:.3f}, Δ per-person {c['delta_per_subject_auc']:+.3f}, "
                         f"inverted {c['inverted']} vs {c['ref_inverted']}, better in "
                         f"{c['wins']}/{c['folds']} folds → {'pass' if c['pass'] else 'fail'}"
                         + extra)
        lines.append(f"- **{mode}: {'WIN' if dec['win'] else 'no win beyond the fold spread'}"
                     "**")
    for layout in ("full", "cyton", "muse"):
        cols = [(m, me) for m in ("cold", "baseline", "calibrated")
                for me in ("bandpower+LR", "model") if layout in summary.get(m, {})]
        cols.append(("cold", "brainflow_concentration"))
        if not all(layout in summary.get(m, {}) for m, _ in cols):
            continue
        lines += [f"\n### per person, {layout} (AUC, mean over the fold seeds; bold < 0.5)\n",
                  "| subject | " + " | ".join(f"{m} {_NAMES[me].strip('*')}" for m, me in cols)
                  + " |", "|---" * (len(cols) + 1) + "|"]
        for sj in subjects:
            vals = [summary[m][layout][me]["per_subject"].get(int(sj)) for m, me in cols]
            lines.append(f"| {sj} | " + " | ".join(
                "—" if v is None else (f"**{v:.2f}**" if v < 0.5 else f"{v:.2f}")
                for v in vals) + " |")
    if report.get("late_rest"):
        lines += ["\n### baseline mode: late rest vs task (full layout)\n",
                  "| method | AUC late rest vs task | drift AUC (rest 120–180 s vs 60–120 s) | "
                  "late rest ≥ 0.5 | task ≥ 0.5 | mean focus late rest / task |",
                  "|---|---|---|---|---|---|"]
        for method, d in report["late_rest"].items():
            lines.append(f"| {_NAMES[method]} | {d['auc_late_rest_vs_task']:.3f} | "
                         f"{d['drift_auc']:.3f} | {d['late_rest_above']:.2f} | "
                         f"{d['task_above']:.2f} | {d['mean_late_rest']:.2f} / "
                         f"{d['mean_task']:.2f} |")
    return "\n".join(lines) + "\n"
