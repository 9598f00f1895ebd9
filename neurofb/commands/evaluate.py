"""``neurofb evaluate``: the focus model against the baselines on eegmat people.

::

    neurofb evaluate --model models/focus-default --eegmat DATA/eegmat --subjects 0,1,2 \\
        --montage all --json                                  # cold mode, held-out people
    neurofb evaluate --eegmat DATA/eegmat --subjects 0,1,2 --baseline 60   # baseline mode
    neurofb evaluate --eegmat DATA/eegmat --subjects 0,1,2 --calibrate     # calibrated mode
    neurofb evaluate --cv 6 --cv-seeds 0,1,2 --baseline 60 --calibrate --eegmat DATA/eegmat \\
        --out cv.json                                         # the whole procedure, CV

Every 2 s window (1 s hop) of each evaluated person's rest and task recordings (one session:
rest, then task) is scored by the model — through the engine's own estimator (ONNX Runtime) —
by band powers + logistic regression trained on every eegmat subject of the folder that is NOT
evaluated, and by BrainFlow concentration (p(MINDFULNESS) of BrainFlow's model).

Modes: cold (default: every window); ``--baseline S``: the first S s of rest re-centre the
features, causally, and the windows starting after S s are scored (also a deviation control
that only tells "different from the baseline", and late rest against task); ``--calibrate``:
each person's first 30 s of rest and 20 s of task fit the personal head (and a per-person LR),
the windows after them are scored. ``--cv K`` runs repeated K-fold leave-subjects-out
cross-validation instead: the whole shipping procedure is trained per fold on the training
people only, and every mode asked for is scored on the held-out people.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, TextIO

from neurofb.commands.options import add_training_options, cache_dir, train_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``neurofb evaluate``."""
    p = subparsers.add_parser(
        "evaluate", help="evaluate the focus model against baselines (eegmat)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="DIR", default=None,
                   help="model folder (default: the shipped models/focus-default)")
    p.add_argument("--eegmat", metavar="DIR", required=True, help="eegmat folder")
    p.add_argument("--subjects", default=None, help="subjects to evaluate (with --cv: to "
                   "use), e.g. 0,1,2 (default: all)")
    p.add_argument("--montage", choices=["full", "cyton", "muse", "all"], default="full",
                   help="headset layout (its electrodes or the nearest ones in the data)")
    p.add_argument("--baseline", type=float, default=None, metavar="S",
                   help="baseline mode: the first S s (60) of each session are rest")
    p.add_argument("--calibrate", action="store_true",
                   help="calibrated mode: each person's first 30 s rest + 20 s task calibrate")
    p.add_argument("--cv", type=int, metavar="K", default=None,
                   help="K-fold leave-subjects-out cross-validation (trains the model per fold)")
    p.add_argument("--cv-seeds", default="0", metavar="S,S,...",
                   help="fold seeds of the cross-validation: each gives another split "
                        "(default 0; the published figures use 0,1,2)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", metavar="FILE", help="also write the JSON result to FILE (new); "
                   "with --cv, the out-of-fold scores go to FILE's .npz and the tables to .md")
    p.add_argument("--force", action="store_true", help="replace an existing --out FILE")
    add_training_options(p)
    p.set_defaults(func=run)


def _clean(obj: object) -> object:
    """JSON-safe: NaN → None, keys as strings."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _fmt(v: float) -> str:
    return "  nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def print_table(results: dict, *, title: str, file: TextIO | None = None) -> None:
    """Print ``{layout: {method: metrics}}`` as a table (to ``file``, default stdout)."""
    from neurofb.training.evaluate import METHODS

    file = sys.stdout if file is None else file
    print(title, file=file)
    head = (f"{'layout':7} {'method':24} {'AUC':>6} {'bal.acc':>7} {'F1':>6} "
            f"{'p.p.AUC':>7} {'inverted':>8} {'windows':>7}")
    print(head, file=file)
    print("-" * len(head), file=file)
    for name, row in results.items():
        for method in METHODS:
            if method in row:
                m = row[method]
                print(f"{name:7} {method:24} {_fmt(m['auc']):>6} "
                      f"{_fmt(m['balanced_accuracy']):>7} {_fmt(m['f1']):>6} "
                      f"{_fmt(m['per_subject_auc']):>7} {m['inverted']:>8} {m['windows']:>7}",
                      file=file)


def _check(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """Inputs exist, --out is writable, the flags fit together; (eegmat, model) paths."""
    from neurofb import paths
    from neurofb.errors import ModelError, NeurofbError

    eegmat = paths.check_input(args.eegmat, what="eegmat folder")
    model = (paths.check_input(args.model, what="model folder", error=ModelError)
             if args.model else None)
    if args.out:
        paths.check_new_file(args.out, force=args.force, inputs=(eegmat, model),
                             what="result file")
    if args.baseline is not None and not (math.isfinite(args.baseline) and args.baseline > 0):
        raise NeurofbError(f"--baseline must be a positive number of seconds, got "
                           f"{args.baseline}")
    if args.cv is not None:
        if args.cv < 2:
            raise NeurofbError(f"--cv {args.cv}: cross-validation needs at least 2 folds")
        if args.model:
            raise NeurofbError("--cv trains a model per fold; it does not take --model")
    elif args.baseline is not None and args.calibrate:
        raise NeurofbError("give --baseline or --calibrate (one mode per run); --cv scores "
                           "several modes in one run")
    return eegmat, model


def _seeds(text: str) -> list[int]:
    from neurofb.errors import NeurofbError

    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise NeurofbError(f"--cv-seeds must be whole numbers like 0,1,2, got {text!r}"
                           ) from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise NeurofbError(f"--cv-seeds must name distinct seeds, got {text!r}")
    return seeds


def _run_cv(args: argparse.Namespace, layouts: tuple[str, ...]) -> dict[str, Any]:
    import numpy as np
    import torch

    from neurofb.errors import NeurofbError
    from neurofb.focus.baseline import BASELINE_S
    from neurofb.training.cv import cross_validate
    from neurofb.training.cv_report import summarise, tables
    from neurofb.training.eegmat import load_eegmat

    torch.set_num_threads(max(1, args.threads))

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    fs = load_eegmat(args.eegmat, args.subjects, cache_dir=cache_dir(args),
                     progress=lambda d, n: say(f"eegmat features: {d}/{n} subjects"))
    if not 2 <= args.cv <= len(fs.subjects):
        n = len(fs.subjects)
        raise NeurofbError(
            f"--cv {args.cv}: each fold tests other people, so the folds must number from 2 "
            f"to the {n} subject{'s' if n != 1 else ''} given"
            + ("; give more subjects (--subjects)" if n < 2 else ""))
    modes = ["cold"] + (["baseline"] if args.baseline else []) + (
        ["calibrated"] if args.calibrate else [])
    cv = cross_validate(fs, n_folds=args.cv, seeds=_seeds(args.cv_seeds),
                        recipe=train_config(args), baseline_s=args.baseline or BASELINE_S,
                        modes=modes, layouts=layouts, progress=say, device=args.device)
    report = summarise(cv, fs)
    text = tables(report, fs.subjects)
    if args.out:
        out = Path(args.out)
        np.savez_compressed(out.with_suffix(".npz"), **{
            k.replace("|", "__"): v for k, v in cv["scores"].items()})
        out.with_suffix(".md").write_text(text, encoding="utf-8")
    if not args.json:
        print(text)
    main = report["summary"]["cold"][layouts[0]]["model"]
    return {"auc": main["auc"], "balanced_accuracy": main["balanced_accuracy"],
            "per_subject_auc": main["per_subject_auc"], "per_subject": main["per_subject"],
            "inverted": main["inverted"], "windows": len(fs),
            "protocol": cv["protocol"], "folds": cv["folds"], **report}


def _held_out(args: argparse.Namespace, layouts: tuple[str, ...], model_dir: Path | None
              ) -> dict[str, Any]:
    from neurofb.errors import NeurofbError
    from neurofb.focus.card import read_meta
    from neurofb.focus.neural import load_estimator
    from neurofb.paths import default_model_dir
    from neurofb.training.eegmat import find_subjects, load_eegmat, parse_subjects
    from neurofb.training.evaluate import compare

    folder = model_dir or default_model_dir()
    meta = read_meta(folder)
    if meta.get("personal"):
        raise NeurofbError(
            f"{folder} is personalised to one person's electrodes and signals; evaluate the "
            "population model it came from (model.json: parent) on other people")
    estimator = load_estimator(folder)
    available = list(find_subjects(args.eegmat))
    subjects = parse_subjects(args.subjects, available)
    window_s = float(meta["input"].get("window_s", 2.0))
    test = load_eegmat(args.eegmat, subjects, window_s=window_s, cache_dir=cache_dir(args))
    others = [s for s in available if s not in subjects]
    train = None
    if others and not args.calibrate:
        train = load_eegmat(args.eegmat, others, window_s=window_s, cache_dir=cache_dir(args))
    mode = "baseline" if args.baseline else "calibrated" if args.calibrate else "cold"
    seen = set(meta.get("training", {}).get("data", {}).get("eegmat", {}).get("subjects", []))
    overlap = sorted(seen & set(subjects))
    notes = []
    if overlap:
        notes.append(f"subjects {overlap} were in the model's training data: these are not "
                     "held-out results")
    if train is None and not args.calibrate:
        notes.append("no other subjects in the folder: the LR baseline was skipped")
    res = compare(estimator, train, test, layouts=layouts, mode=mode,
                  baseline_s=args.baseline or 60.0)
    if not args.json:
        print_table(res, title=f"model {folder} on subjects {subjects}, {mode} mode")
        for n in notes:
            print(f"note: {n}")
    main = res[layouts[0]]["model"]
    return {**{k: main[k] for k in ("auc", "balanced_accuracy", "f1", "per_subject_auc",
                                    "per_subject", "inverted", "windows")},
            "model": str(folder), "model_sha256": meta["weights"]["sha256"],
            "subjects": subjects, "montage": args.montage, "mode": mode,
            "baseline_s": args.baseline, "calibrate": args.calibrate,
            "baseline_lr_trained_on": others if train is not None else [],
            "held_out": not overlap, "notes": notes, "montages": res}


def run(args: argparse.Namespace) -> int:
    """Evaluate and print a table or JSON."""
    from neurofb.training.layouts import LAYOUTS

    _, model_dir = _check(args)
    layouts = LAYOUTS if args.montage == "all" else (args.montage,)
    out = _run_cv(args, layouts) if args.cv is not None else _held_out(args, layouts, model_dir)
    text = json.dumps(_clean(out), indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    if args.json:
        print(text)
    return 0
