"""``neurofb evaluate``: the focus model against the baselines on eegmat people.

::

    neurofb evaluate --model models/focus-default --eegmat DATA/eegmat --subjects 0,1,2 \\
        --montage all --json            # cold mode (held out only for a model not trained on them)
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

Held out means neither the subject number nor the content of a file (SHA-256) is among the
model's training files (model.json ``training.data``, of the model and of every model it was
retrained from); otherwise the result says so (``held_out`` false, a note naming the files).
A truncated EDF file (shorter than its header lists) is read as far as it goes, with a warning
on stderr, as ``neurofb replay`` does; a subject with only one of its two files is left out
with a warning (an error when ``--subjects`` names it). ``--baseline S`` must leave rest
windows to score in every evaluated person's rest recording.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, TextIO

from neurofb.commands.options import add_training_options, cache_dir, plain, train_config
from neurofb.commands.options import warn as _warn

#: Flags that shape the models --cv trains; without --cv nothing is trained, so none applies.
CV_ONLY = ("cv_seeds", "epochs", "patience", "members", "seed", "d_model", "layers", "heads",
           "dropout", "lr", "lr_linear", "weight_decay", "batch_size")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``neurofb evaluate``."""
    p = subparsers.add_parser(
        "evaluate", help="evaluate the focus model against baselines (eegmat)",
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="DIR", default=None,
                   help="model folder (default: the shipped models/focus-default)")
    p.add_argument("--eegmat", metavar="DIR", required=True, help="eegmat folder")
    p.add_argument("--subjects", default=None, help="subjects to evaluate (with --cv: to "
                   "use), e.g. 0,1,2 (default: all)")
    p.add_argument("--montage", choices=["full", "cyton", "muse", "all"], default="full",
                   help="headset layout (its electrodes or the nearest ones in the data; "
                        "default full: all 19)")
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
                   "with --cv, the out-of-fold scores go to FILE with suffix .npz and the "
                   "tables to FILE with suffix .md (so FILE itself may not end in .npz or .md), "
                   "e.g. --out cv.json writes cv.json, cv.npz, cv.md")
    p.add_argument("--force", action="store_true",
                   help="replace existing --out files (all that the run writes)")
    add_training_options(p, title="recipe of the models --cv trains (only with --cv)")
    p.set_defaults(cv_only_defaults={dest: p.get_default(dest) for dest in CV_ONLY})
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


def _outputs(args: argparse.Namespace) -> dict[str, Path]:
    """The files the run writes: {"json": --out, "npz": ..., "md": ...} (the last two with
    --cv); none without --out."""
    if not args.out:
        return {}
    out = Path(args.out)
    if args.cv is None:
        return {"json": out}
    return {"json": out, "npz": out.with_suffix(".npz"), "md": out.with_suffix(".md")}


def _check(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """Inputs exist, every output file is new (or --force) and writable, the flags fit
    together; (eegmat, model) paths."""
    from neurofb import paths
    from neurofb.errors import ModelError, NeurofbError

    eegmat = paths.check_input(args.eegmat, what="eegmat folder")
    model = (paths.check_input(args.model, what="model folder", error=ModelError)
             if args.model else None)
    if args.out and args.cv is not None and Path(args.out).suffix.lower() in (".md", ".npz"):
        raise NeurofbError(
            f"--out {args.out}: with --cv the tables go to the .md and the scores to the .npz "
            f"file beside the JSON result; give the JSON's name, e.g. --out "
            f"{Path(args.out).with_suffix('.json')}")
    for kind, path in _outputs(args).items():
        paths.check_new_file(path, force=args.force, inputs=(eegmat, model),
                             what="result file" if kind == "json" else f"{kind} result file")
    if args.baseline is not None and not (math.isfinite(args.baseline) and args.baseline > 0):
        raise NeurofbError(f"--baseline must be a positive number of seconds, got "
                           f"{args.baseline}")
    if args.cv is not None:
        if args.cv < 2:
            raise NeurofbError(f"--cv {args.cv}: cross-validation needs at least 2 folds")
        if args.model:
            raise NeurofbError("--cv trains a model per fold; it does not take --model")
    elif given := [f"--{dest.replace('_', '-')}" for dest, default in
                   getattr(args, "cv_only_defaults", {}).items()
                   if getattr(args, dest, default) != default]:
        raise NeurofbError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for --cv "
                           "(the models it trains per fold); without --cv the model folder is "
                           "scored as it is: add --cv K, or leave them out")
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


def _check_baseline(fs: Any, baseline_s: float | None) -> None:
    """Refuse a ``--baseline`` that leaves some person no rest window to score."""
    import numpy as np

    from neurofb.errors import NeurofbError

    if baseline_s is None:
        return
    last = {int(s): float(fs.t[(fs.y == 0) & (fs.subject == s)].max(initial=-np.inf))
            for s in fs.subjects}  # start of each person's last rest window
    short = sorted(s for s, t in last.items() if t < baseline_s - 1e-6)
    if short:
        worst = min(last, key=last.get)
        who = f"subject{'s' if len(short) > 1 else ''} {', '.join(map(str, short))}"
        raise NeurofbError(
            f"--baseline {baseline_s:g} leaves no rest window to score for {who}: the shortest "
            f"rest recording (subject {worst}'s) is {last[worst] + fs.window_s:g} s, its last "
            f"{fs.window_s:g} s window starting at {last[worst]:g} s; give --baseline "
            f"{last[worst]:g} or less, or leave {who} out (--subjects)")


def _f1_and_windows(report: dict, cv: dict, fs: Any) -> None:
    """Add each method's ``f1`` (mean and sd over the folds) and ``windows`` (scored per seed)
    to the CV summary, from the out-of-fold scores."""
    import numpy as np

    from neurofb.training.cv_report import fold_rows

    seed = cv["protocol"]["seeds"][0]
    for mode, by_layout in report["summary"].items():
        for layout, by_method in by_layout.items():
            for method, row in by_method.items():
                f1 = [r["f1"] for r in fold_rows(cv, fs, mode, method, layout)]
                row["f1"], row["f1_sd"] = float(np.mean(f1)), float(np.std(f1))
                row["windows"] = int(np.isfinite(
                    cv["scores"][f"{seed}|{mode}|{method}|{layout}"]).sum())


def _run_cv(args: argparse.Namespace, layouts: tuple[str, ...]) -> dict[str, Any]:
    import numpy as np
    import torch

    from neurofb.errors import NeurofbError
    from neurofb.focus.baseline import BASELINE_S
    from neurofb.training.cv import cross_validate
    from neurofb.training.cv_report import summarise, tables
    from neurofb.training.eegmat import load_eegmat

    torch.set_num_threads(max(1, args.threads))
    recipe = train_config(args)  # a recipe out of range is said before the features load

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    fs = load_eegmat(args.eegmat, args.subjects, cache_dir=cache_dir(args), warn=_warn,
                     progress=lambda d, n: say(f"eegmat features: {d}/{n} subjects"))
    if not 2 <= args.cv <= len(fs.subjects):
        n = len(fs.subjects)
        raise NeurofbError(
            f"--cv {args.cv}: each fold tests other people, so the folds must number from 2 "
            f"to the {n} subject{'s' if n != 1 else ''} given"
            + ("; give more subjects (--subjects)" if n < 2 else ""))
    _check_baseline(fs, args.baseline)
    modes = ["cold"] + (["baseline"] if args.baseline else []) + (
        ["calibrated"] if args.calibrate else [])
    try:  # a fold too small for the recipe (its members cannot be validated) is one line
        cv = cross_validate(fs, n_folds=args.cv, seeds=_seeds(args.cv_seeds),
                            recipe=recipe, baseline_s=args.baseline or BASELINE_S,
                            modes=modes, layouts=layouts, progress=say, device=args.device)
    except ValueError as err:
        raise NeurofbError(f"--cv {args.cv} on {len(fs.subjects)} subjects: {err}") from None
    report = summarise(cv, fs)
    _f1_and_windows(report, cv, fs)
    text = tables(report, fs.subjects)
    out = _outputs(args)
    if out:
        np.savez_compressed(out["npz"], **{
            k.replace("|", "__"): v for k, v in cv["scores"].items()})
        out["md"].write_text(text, encoding="utf-8")
    if not args.json:
        print(text)
    main = report["summary"]["cold"][layouts[0]]["model"]
    import shlex

    argv = getattr(args, "argv", None)
    command = shlex.join(["neurofb", *argv]) if argv else None
    return {**{k: main[k] for k in ("auc", "balanced_accuracy", "f1", "per_subject_auc",
                                    "per_subject", "inverted", "windows")},
            **({"command": command} if command else {}),
            "protocol": cv["protocol"], "folds": cv["folds"], **report}


def _training_data(data: object) -> list[dict]:
    """A model.json ``training.data`` and those of the models it was retrained from
    (``parent``, recursively)."""
    chain = []
    while isinstance(data, dict):
        chain.append(data)
        data = data.get("parent")
    return chain


def _overlap(meta: dict, test: Any, subjects: list[int]) -> tuple[list[int], list[str]]:
    """The evaluated subjects that are in the model's training data — by subject number, or by
    the SHA-256 of a file (renamed copies; ``test.files`` carries the hashes loading computed)
    — and notes saying why."""
    from neurofb.training.eegmat import file_subject

    chain = _training_data(meta.get("training", {}).get("data"))
    seen = {int(s) for d in chain for s in (d.get("eegmat") or {}).get("subjects", [])}
    trained = {f["sha256"]: f.get("file", "?") for d in chain for part in ("eegmat", "recordings")
               for f in (d.get(part) or {}).get("files", [])
               if isinstance(f, dict) and isinstance(f.get("sha256"), str)}
    by_number = sorted(seen & set(subjects))
    notes = []
    if by_number:
        notes.append(f"subjects {by_number} were in the model's training data (by subject "
                     "number): these are not held-out results")
    same: dict[int, list[str]] = {}
    for f in test.files:
        s = file_subject(str(f.get("file", "")))
        if s is not None and f.get("sha256") in trained:
            same.setdefault(s, []).append(f"{f['file']} = training file {trained[f['sha256']]}")
    if same:
        notes.append(f"subjects {sorted(same)} were in the model's training data (same file "
                     f"content as a training file: "
                     f"{'; '.join(x for v in same.values() for x in v)}): these are not "
                     "held-out results")
    return sorted({*by_number, *same}), notes


def print_late_rest(results: dict, *, file: TextIO | None = None) -> None:
    """Print baseline mode's late rest against task, per layout and method (nothing in the
    other modes).

    Parameters
    ----------
    results : dict
        ``{layout: {"late_rest": {method: figures}, ...}}`` from
        :func:`neurofb.training.evaluate.compare`.
    file : text stream, optional
        Where to print (default stdout).
    """
    file = sys.stdout if file is None else file
    rows = [(name, method, d) for name, row in results.items()
            for method, d in row.get("late_rest", {}).items()]
    if not rows:
        return
    print("\nlate rest (after the baseline) vs task", file=file)
    head = (f"{'layout':7} {'method':24} {'AUC':>6} {'drift':>6} {'rest>=.5':>8} "
            f"{'task>=.5':>8} {'mean rest/task':>14}")
    print(head, file=file)
    print("-" * len(head), file=file)
    for name, method, d in rows:
        print(f"{name:7} {method:24} {_fmt(d['auc_late_rest_vs_task']):>6} "
              f"{_fmt(d['drift_auc']):>6} {_fmt(d['late_rest_above']):>8} "
              f"{_fmt(d['task_above']):>8} "
              f"{_fmt(d['mean_late_rest']) + ' / ' + _fmt(d['mean_task']):>14}", file=file)


def _held_out(args: argparse.Namespace, layouts: tuple[str, ...], model_dir: Path | None
              ) -> dict[str, Any]:
    from neurofb.errors import NeurofbError
    from neurofb.focus.card import read_meta
    from neurofb.focus.neural import load_estimator
    from neurofb.paths import default_model_dir
    from neurofb.training.eegmat import choose_subjects, find_subjects, load_eegmat
    from neurofb.training.evaluate import compare

    folder = model_dir or default_model_dir()
    meta = read_meta(folder)
    if meta.get("personal"):
        raise NeurofbError(
            f"{folder} is personalised to one person's electrodes and signals; evaluate the "
            "population model it came from (model.json: parent) on other people")
    estimator = load_estimator(folder)
    warnings: list[str] = []  # said on stderr as they come, and kept in the JSON

    def warn(line: str) -> None:
        _warn(line)
        warnings.append(line)

    subjects = choose_subjects(args.eegmat, args.subjects, warn=warn)
    available = list(find_subjects(args.eegmat))
    window_s = float(meta["input"].get("window_s", 2.0))
    test = load_eegmat(args.eegmat, subjects, window_s=window_s, cache_dir=cache_dir(args),
                       warn=warn)
    _check_baseline(test, args.baseline)
    others = [s for s in available if s not in subjects]
    train = None
    if others and not args.calibrate:
        train = load_eegmat(args.eegmat, others, window_s=window_s, cache_dir=cache_dir(args),
                            warn=warn)
    mode = "baseline" if args.baseline else "calibrated" if args.calibrate else "cold"
    overlap, notes = _overlap(meta, test, subjects)
    if train is None and not args.calibrate:
        notes.append("no other subjects in the folder: the LR baseline was skipped")
    res = compare(estimator, train, test, layouts=layouts, mode=mode,
                  baseline_s=args.baseline or 60.0)
    if not args.json:
        print_table(res, title=f"model {folder} on subjects {subjects}, {mode} mode")
        print_late_rest(res)
        for n in notes:
            print(f"note: {n}")
    main = res[layouts[0]]["model"]
    return {**{k: main[k] for k in ("auc", "balanced_accuracy", "f1", "per_subject_auc",
                                    "per_subject", "inverted", "windows")},
            "model": str(folder), "model_sha256": meta["weights"]["sha256"],
            "subjects": subjects, "montage": args.montage, "mode": mode,
            "baseline_s": args.baseline, "calibrate": args.calibrate,
            "baseline_lr_trained_on": others if train is not None else [],
            "held_out": not overlap, "notes": notes, "warnings": warnings, "montages": res}


def run(args: argparse.Namespace) -> int:
    """Evaluate and print a table or JSON."""
    from neurofb.training.layouts import LAYOUTS

    _, model_dir = _check(args)
    layouts = LAYOUTS if args.montage == "all" else (args.montage,)
    out = _run_cv(args, layouts) if args.cv is not None else _held_out(args, layouts, model_dir)
    text = json.dumps(_clean(out), indent=1)
    if args.out:
        _outputs(args)["json"].write_text(text + "\n", encoding="utf-8")
    if args.json:
        print(text)
    return 0
