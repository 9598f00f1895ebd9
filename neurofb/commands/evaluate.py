"""``neurofb evaluate``: the focus model against the baselines on eegmat subjects.

::

    neurofb evaluate --model models/focus-default --eegmat DATA/eegmat --subjects 0,1,2 --json
    neurofb evaluate --eegmat DATA/eegmat --subjects 0,1,2 --montage cyton --calibrate
    neurofb evaluate --cv 6 --eegmat DATA/eegmat --recipes grid --json

Every window (2 s, 1 s hop) of both recordings of each evaluated subject is scored by the model,
by band powers + logistic regression — trained on every eegmat subject of the folder that is NOT
evaluated — and by BrainFlow's mindfulness model (focus = 1 − mindfulness). ``--calibrate``
gives each subject's first 30 s of rest and 20 s of task to personalisation (the model's, and a
per-person LR) and scores the rest. ``--cv K`` runs K-fold leave-subjects-out cross-validation
instead: a model is trained per fold (recipe chosen by inner validation on the training subjects
only) and compared with the baselines on the same held-out subjects.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TextIO

from neurofb.commands.options import add_training_options, cache_dir, train_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``neurofb evaluate``."""
    p = subparsers.add_parser(
        "evaluate", help="evaluate the focus model against baselines (eegmat)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="DIR", default=None,
                   help="model folder (default: the shipped models/focus-default)")
    p.add_argument("--eegmat", metavar="DIR", required=True, help="eegmat folder")
    p.add_argument("--subjects", default=None, help="subjects to evaluate, e.g. 0,1,2 "
                   "(default: all)")
    p.add_argument("--montage", choices=["full", "cyton", "muse", "all"], default="full",
                   help="headset layout (its electrodes or the nearest ones in the data)")
    p.add_argument("--calibrate", action="store_true",
                   help="personalise on each subject's first 30 s rest + 20 s task first")
    p.add_argument("--no-baselines", action="store_true", help="score only the model")
    p.add_argument("--cv", type=int, metavar="K", default=None,
                   help="K-fold leave-subjects-out cross-validation (trains K models)")
    p.add_argument("--cv-seed", type=int, default=0, help="seed of the fold assignment")
    p.add_argument("--recipes", default="default",
                   help="with --cv: candidate recipes chosen by inner validation "
                        "('default' or 'grid')")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", metavar="FILE", help="also write the JSON result to FILE (new)")
    p.add_argument("--force", action="store_true", help="replace an existing --out FILE")
    add_training_options(p)
    p.set_defaults(func=run)


def _fmt(v: object) -> str:
    if isinstance(v, list):
        return f"{v[0]:.3f}±{v[1]:.3f}"
    if isinstance(v, float):
        return "  nan" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def print_table(results: dict, *, title: str, file: TextIO | None = None) -> None:
    """Print ``{montage: {method: metrics}}`` as a table (to ``file``, default stdout)."""
    file = sys.stdout if file is None else file
    print(title, file=file)
    head = f"{'montage':8} {'method':14} {'AUC':>13} {'bal.acc':>13} {'F1':>13} " \
           f"{'subj.AUC':>13} {'windows':>8}"
    print(head, file=file)
    print("-" * len(head), file=file)
    for name, row in results.items():
        for method in ("model", "bandpower+LR", "mindfulness"):
            if method in row:
                m = row[method]
                print(f"{name:8} {method:14} {_fmt(m['auc']):>13} "
                      f"{_fmt(m['balanced_accuracy']):>13} {_fmt(m['f1']):>13} "
                      f"{_fmt(m['per_subject_auc']):>13} {m['windows']:>8}", file=file)


def _clean(obj: object) -> object:
    """JSON-safe: NaN → None."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def run(args: argparse.Namespace) -> int:
    """Evaluate and print a table or JSON."""
    from pathlib import Path

    import torch

    from neurofb import paths
    from neurofb.errors import ModelError, NeurofbError
    from neurofb.focus.io import load_model
    from neurofb.paths import default_model_dir
    from neurofb.training.eegmat import find_subjects, load_eegmat, parse_subjects
    from neurofb.training.evaluate import MONTAGES, RECIPES, compare, cross_validate

    torch.set_num_threads(max(1, args.threads))
    montages = MONTAGES if args.montage == "all" else (args.montage,)
    eegmat = paths.check_input(args.eegmat, what="eegmat folder")
    model_arg = (paths.check_input(args.model, what="model folder", error=ModelError)
                 if args.model else None)
    if args.out:
        paths.check_new_file(args.out, force=args.force, inputs=(eegmat, model_arg),
                             what="result file")
    if args.cv is not None and args.cv < 2:
        raise NeurofbError(f"--cv {args.cv}: cross-validation needs at least 2 folds")
    if args.cv is not None and args.model:
        raise NeurofbError("--cv trains a model per fold; it does not take --model")
    available = list(find_subjects(args.eegmat))
    if args.cv is not None:
        if args.recipes not in RECIPES:
            raise NeurofbError(f"unknown --recipes {args.recipes!r}; choose {sorted(RECIPES)}")
        ws = load_eegmat(args.eegmat, args.subjects, cache_dir=cache_dir(args))
        if not 2 <= args.cv <= len(ws.subjects):
            raise NeurofbError(f"--cv {args.cv} needs between 2 and {len(ws.subjects)} folds")
        say = (lambda line: print(line, file=sys.stderr)) if not args.json else None
        res = cross_validate(ws, n_folds=args.cv, seed=args.cv_seed, base=train_config(args),
                             candidates=RECIPES[args.recipes], montages=MONTAGES if
                             args.montage in ("all", "full") else montages,
                             calibrate=args.calibrate, device=args.device, progress=say)
        main = res["summary"][montages[0]]["model"]
        out = {**{k: main[k][0] for k in ("auc", "balanced_accuracy", "f1", "per_subject_auc")},
               "windows": main["windows"], **res}
        if not args.json:
            print_table(res["summary"], title=f"{args.cv}-fold leave-subjects-out CV "
                        f"(mean±sd over folds), subjects {ws.subjects}")
            if args.calibrate:
                print_table(res["summary_calibrated"], title="with calibration (30 s rest + "
                            "20 s task per subject)")
    else:
        model_dir = Path(args.model) if args.model else default_model_dir()
        model, meta = load_model(model_dir)
        if model.personal is not None:
            raise NeurofbError(
                f"{model_dir} is personalised to one person's electrodes and signals; evaluate "
                "the population model it came from (model.json: parent) on other people")
        subjects = parse_subjects(args.subjects, available)
        test = load_eegmat(args.eegmat, subjects, sfreq=model.sfreq,
                           window_s=model.n_times / model.sfreq, cache_dir=cache_dir(args))
        others = [s for s in available if s not in subjects]
        train_ws = None
        if others and not args.no_baselines and not args.calibrate:
            train_ws = load_eegmat(args.eegmat, others, sfreq=model.sfreq,
                                   window_s=model.n_times / model.sfreq,
                                   cache_dir=cache_dir(args))
        seen = set(meta.get("training", {}).get("data", {}).get("eegmat", {})
                   .get("subjects", []))
        overlap = sorted(seen & set(subjects))
        notes = []
        if overlap:
            notes.append(f"subjects {overlap} were in the model's training data: these are "
                         f"not held-out results")
        if train_ws is None and not args.no_baselines and not args.calibrate:
            notes.append("no other subjects in the folder: the LR baseline was skipped")
        res = compare(model, train_ws, test, montages=montages, calibrate=args.calibrate,
                      baselines=not args.no_baselines)
        main = res[montages[0]]["model"]
        out = {**main, "model": str(model_dir), "model_sha256": meta["weights"]["sha256"],
               "subjects": subjects, "montage": args.montage, "calibrate": args.calibrate,
               "baseline_lr_trained_on": others if train_ws is not None else [],
               "held_out": not overlap, "notes": notes, "montages": res}
        if not args.json:
            print_table(res, title=f"model {model_dir} on subjects {subjects}"
                        + (" (calibrated)" if args.calibrate else ""))
            for n in notes:
                print(f"note: {n}")
    text = json.dumps(_clean(out), indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    if args.json:
        print(text)
    return 0
