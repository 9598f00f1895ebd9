"""``neurofb train``: train the focus model (both modes' ensembles) on eegmat and/or recordings.

::

    neurofb train --eegmat DATA/eegmat --out models/mine
    neurofb train --recordings ~/recordings --init models/focus-default --out models/mine2
    torchrun --nproc_per_node 2 -m neurofb train --eegmat DATA/eegmat --out models/ddp

Trains the shipping recipe (:class:`neurofb.training.train.Recipe`) twice — the cold ensemble on
raw features and the baseline ensemble on features re-centred on each session's first
``--baseline`` seconds of rest — and writes a model folder (weights, the two ONNX graphs,
model.json). Runs on CUDA with mixed precision when present, on the CPU otherwise, and under
``torchrun`` (DDP; only rank 0 writes). ``--logdir`` writes TensorBoard logs; ``--checkpoint
DIR`` saves a resumable checkpoint after every epoch and ``--resume`` continues from it;
``--metrics`` records a cross-validation (``neurofb evaluate --cv … --out FILE``) of this very
training (the same eegmat subjects, recipe and ``--baseline``) in model.json. A model retrained
with ``--init`` records its parent (``parent``) and the parent's training data
(``training.data.parent``): both are in it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from neurofb.commands.options import add_training_options, cache_dir, plain, train_config
from neurofb.commands.options import warn as _warn

#: Recipe fields (:class:`neurofb.training.train.Recipe`) and the flags that set them.
RECIPE_FLAGS = {"max_epochs": "--epochs", "patience": "--patience", "n_members": "--members",
                "seed": "--seed", "d_model": "--d-model", "n_layers": "--layers",
                "n_heads": "--heads", "dropout": "--dropout", "lr": "--lr",
                "lr_linear": "--lr-linear", "weight_decay": "--weight-decay",
                "batch_size": "--batch-size"}
#: Recipe fields that say how, not what, was trained: not compared with a cross-validation's.
_DEVICE_FIELDS = ("mixed_precision",)


def read_metrics(path: str) -> dict[str, Any]:
    """Evaluation results for model.json; an ``evaluate --cv`` result is kept without its
    per-fold score arrays (they stay in the result's .npz).

    Read before training starts, so a wrong file costs no training. Whether a cross-validation
    is one of this training is :func:`check_cv`'s.

    Raises
    ------
    NeurofbError
        The file cannot be read, is not JSON (or not text), is not an ``evaluate --cv``
        result, or is one of the wrong form.
    """
    from neurofb.errors import NeurofbError

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise NeurofbError(f"cannot read --metrics {path}: {err.strerror or err}") from None
    except ValueError as err:  # not UTF-8 text, or not JSON
        raise NeurofbError(f"--metrics {path} is not a JSON file ({err}); give the result of "
                           "`neurofb evaluate --cv K --out FILE`") from None
    if not (isinstance(doc, dict) and "summary" in doc and "protocol" in doc):
        # e.g. a plain `evaluate --json` of another model: its figures are not this model's
        raise NeurofbError(f"--metrics {path} is not an `evaluate --cv` result (it has no "
                           "summary and protocol): record the cross-validation of this very "
                           "training with `neurofb evaluate --cv K --out FILE`, or leave "
                           "--metrics out")
    try:
        return _cv_metrics(doc)
    except (AttributeError, TypeError, KeyError, ValueError) as err:
        raise NeurofbError(f"--metrics {path} looks like an evaluate --cv result but its "
                           f"summary, folds or protocol are not of that form ({err})"
                           ) from None


def _cv_metrics(doc: dict[str, Any]) -> dict[str, Any]:
    """An ``evaluate --cv`` result without its per-fold scores."""
    summary = {mode: {layout: {method: {k: v for k, v in m.items()
                                        if not k.startswith("fold_")}
                               for method, m in row.items()}
                      for layout, row in by_layout.items()}
               for mode, by_layout in doc["summary"].items()}
    protocol = doc["protocol"]
    recorded = doc.get("command") or protocol.get("command")
    return {"cross_validation": {
            "command": recorded if isinstance(recorded, str) else
            "not recorded (an older evaluate --cv result; its protocol holds the settings)",
            "protocol": protocol, "summary": summary, "paired": doc.get("paired"),
            "decision": doc.get("decision"), "late_rest": doc.get("late_rest"),
            "folds": [{k: f[k] for k in ("seed", "fold", "test", "seconds") if k in f}
                      for f in doc.get("folds", [])]}}


def _ranges(numbers: list[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` as ``0-2,5,7-8`` (what ``--subjects`` reads)."""
    runs: list[list[int]] = []
    for n in sorted(set(int(x) for x in numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _flag_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_cv(metrics: dict[str, Any], path: str, *, subjects: list[int],
             recipe: Any, baseline_s: float, recordings: bool = False,
             init: bool = False) -> None:
    """Refuse a cross-validation (``metrics`` from :func:`read_metrics`) of another training.

    A cross-validation describes the model only when it trained the same way on the same
    people: every fold trains from scratch on eegmat subjects with its recipe and baseline.

    Parameters
    ----------
    metrics : dict
        :func:`read_metrics`'s result (anything but a cross-validation passes).
    path : str
        The ``--metrics`` file, for messages.
    subjects : list of int
        The eegmat subjects this training uses.
    recipe : Recipe
        This training's recipe.
    baseline_s : float
        This training's ``--baseline``.
    recordings, init : bool
        Whether this training adds ``--recordings`` / starts from ``--init``.

    Raises
    ------
    NeurofbError
        Saying which of subjects, data, recipe fields and baseline differ.
    """
    from dataclasses import asdict

    from neurofb.errors import NeurofbError

    cv = metrics.get("cross_validation")
    if not isinstance(cv, dict):
        return
    protocol = cv["protocol"]
    problems = []
    theirs = protocol.get("subjects")
    if not isinstance(theirs, list):
        problems.append("it records no subjects")
    elif sorted(map(int, theirs)) != sorted(subjects):
        problems.append(f"eegmat subjects {_ranges(theirs) or 'none'} there, "
                        f"{_ranges(subjects) or 'none'} here")
    if recordings:
        problems.append("this training adds --recordings (a cross-validation is of eegmat "
                        "subjects alone)")
    if init:
        problems.append("this training starts from --init (every fold trains from scratch)")
    rec = protocol.get("recipe")
    if not isinstance(rec, dict):
        problems.append("it records no recipe")
    else:
        for field, value in asdict(recipe).items():
            if field not in _DEVICE_FIELDS and rec.get(field) != value:
                there = "not recorded" if field not in rec else _flag_value(rec[field])
                problems.append(f"{RECIPE_FLAGS.get(field, field)} {there} there, "
                                f"{_flag_value(value)} here")
    if protocol.get("baseline_s") != baseline_s:
        there = protocol.get("baseline_s")
        problems.append(f"--baseline {'not recorded' if there is None else _flag_value(there)} "
                        f"there, {baseline_s:g} here")
    if problems:
        raise NeurofbError(
            f"--metrics {path} is a cross-validation of another training than this one: "
            f"{'; '.join(problems)}. Record a cross-validation of this very training "
            "(`neurofb evaluate --cv K --out FILE` with the same --eegmat, --subjects, "
            "--baseline and recipe flags), or leave --metrics out")


def check_cv_windows(metrics: dict[str, Any], path: str, data: dict[str, Any],
                     window_s: float) -> None:
    """Refuse a cross-validation whose windows are not those loaded (another eegmat copy or
    windowing): checked once the data is loaded, before any training.

    Raises
    ------
    NeurofbError
        Saying how many windows (or which window length) each has.
    """
    from neurofb.errors import NeurofbError

    cv = metrics.get("cross_validation")
    if not isinstance(cv, dict) or "eegmat" not in data:
        return
    protocol, ours = cv["protocol"], data["eegmat"].get("windows")
    if protocol.get("windows") not in (None, ours) or protocol.get("window_s") not in (
            None, window_s):
        raise NeurofbError(
            f"--metrics {path} is a cross-validation of other windows: "
            f"{protocol.get('windows')} windows of {protocol.get('window_s')} s there, {ours} "
            f"of {window_s:g} s here (another eegmat folder or neurofb version?). Record a "
            "cross-validation of this training's data, or leave --metrics out")


def _check_paths(args: argparse.Namespace) -> None:
    """Every input exists; --out and --checkpoint are writable and none of the inputs."""
    from neurofb import paths
    from neurofb.errors import ModelError, NeurofbError
    from neurofb.focus.card import check_model_out

    inputs: list[Path] = []
    if args.eegmat:
        inputs.append(paths.check_input(args.eegmat, what="eegmat folder"))
    for item in args.recordings or ():
        inputs.append(paths.check_input(item, what="recording"))
    if args.init:
        inputs.append(paths.check_input(args.init, what="model folder", error=ModelError))
        from neurofb.focus.card import read_meta

        if read_meta(args.init).get("personal"):  # its head would be dropped, unsaid
            raise ModelError(f"{args.init} is personalised to one person (a head on top of its "
                             "population model); retrain the population model it came from "
                             "(model.json: parent), then calibrate the result again")
        if args.members is not None:
            raise NeurofbError("--members does not apply with --init: a retrained model keeps "
                               "its parent's members; leave --members out")
    if args.metrics:
        inputs.append(paths.check_input(args.metrics, what="metrics file"))
    out = paths.check_output_folder(args.out, inputs=inputs, what="model folder",
                                    error=ModelError)
    check_model_out(out, overwrite=args.overwrite)
    if args.checkpoint:
        ckpt = paths.check_output_folder(args.checkpoint, inputs=[*inputs, out],
                                         what="checkpoint folder", error=ModelError)
        held = (ckpt / "state.json").exists() or any(ckpt.glob("*/state.json"))
        if args.resume and not held:
            raise ModelError(f"no checkpoint to resume in {ckpt}: check the path, or train "
                             "without --resume to start one")
        if held and not (args.resume or args.overwrite):
            raise ModelError(f"{ckpt} holds a checkpoint of another training: --resume it, "
                             "pass --overwrite to start afresh, or choose another --checkpoint")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``neurofb train``."""
    p = subparsers.add_parser(
        "train", help="train the focus model (eegmat and/or labelled recordings)",
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--eegmat", metavar="DIR", help="eegmat folder (SubjectNN_1/2.edf)")
    p.add_argument("--subjects", default=None, help="eegmat subjects, e.g. 0,1,5 or 0-2,5-7 "
                   "(default: all)")
    p.add_argument("--recordings", nargs="+", metavar="PATH",
                   help="neurofb recordings (or folders of them) with labelled rest/task blocks")
    p.add_argument("--init", metavar="MODEL", help="retrain from this model folder")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="model folder to write: new or empty (a folder holding other files is "
                        "refused)")
    p.add_argument("--name", default=None, help="model name (default: the --out folder name)")
    p.add_argument("--overwrite", "--force", dest="overwrite", action="store_true",
                   help="replace the model of a model folder --out (never the --init model) "
                        "and a checkpoint in --checkpoint")
    p.add_argument("--baseline", type=float, default=60.0, metavar="S",
                   help="the baseline mode's rest at the start of each session, in seconds "
                        "(default 60)")
    p.add_argument("--metrics", metavar="JSON",
                   help="evaluation results to record in model.json: the result of evaluate "
                        "--cv --out run on the same eegmat subjects, recipe and --baseline")
    p.add_argument("--logdir", metavar="DIR", help="TensorBoard log folder")
    p.add_argument("--checkpoint", metavar="DIR", help="save a resumable checkpoint here")
    p.add_argument("--resume", action="store_true", help="resume from --checkpoint")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_training_options(p)
    members = next(a for a in p._actions if a.dest == "members")
    members.help += " (not with --init: a retrained model keeps its parent's members)"
    p.set_defaults(func=run)


def _data(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The training windows (eegmat and/or recordings) and their description."""
    from neurofb.training.eegmat import dataset_description, load_eegmat
    from neurofb.training.windows import concat

    sets, data = [], {}
    if args.eegmat:
        fs = load_eegmat(args.eegmat, args.subjects, cache_dir=cache_dir(args), warn=_warn)
        sets.append(fs)
        data["eegmat"] = dataset_description(fs, args.eegmat)
    if args.recordings:
        rs = _recordings(args.recordings)
        if args.eegmat:  # keep recording ids apart from eegmat subject numbers
            rs = replace(rs, subject=rs.subject + 1000)
        sets.append(rs)
        data["recordings"] = {"files": rs.files, "windows": len(rs)}
    return concat(sets), data


def _recordings(items: list[str]) -> Any:
    """The labelled windows of every ``--recordings`` path, each recording its own subject.

    Every path given must give windows: a recording that cannot (no labelled blocks, no clean
    window) is an error naming it, never silently left out of the model. A folder of
    recordings gives the windows of those of its recordings that have labelled blocks; each
    one left out is named in a warning.
    """
    from neurofb.errors import RecordingError
    from neurofb.recording.formats import open_recording
    from neurofb.training.recordings import distinct, load_recordings, recording_windows
    from neurofb.training.windows import concat

    sets, n = [], 0
    for item in items:
        path = Path(item)
        try:
            if path.is_dir() and not (path / "meta.json").exists():  # a folder of recordings
                rs = load_recordings([path], on_skip=_warn)
            else:
                rs = recording_windows(open_recording(path))
        except RecordingError as err:
            raise RecordingError(f"--recordings {item} cannot be trained on: {err} (or leave "
                                 "it out of --recordings)") from None
        sets.append(replace(rs, subject=rs.subject + n))
        n += len(rs.subjects)
    return distinct(concat(sets))  # the same recording under two --recordings items: refused


def _eegmat_subjects(args: argparse.Namespace) -> list[int]:
    """The eegmat subjects ``--eegmat``/``--subjects`` name (none without ``--eegmat``)."""
    from neurofb.training.eegmat import choose_subjects

    if not args.eegmat:
        return []
    return choose_subjects(args.eegmat, args.subjects, warn=lambda _: None)  # said on loading


def run(args: argparse.Namespace) -> int:
    """Train both modes, then (rank 0) write the model folder."""
    import numpy as np
    import torch
    from tqdm import tqdm

    from neurofb.errors import NeurofbError
    from neurofb.focus.io import load_model
    from neurofb.training import ddp
    from neurofb.training.model_folder import save_trained_models
    from neurofb.training.procedure import check_training, train_modes

    if not args.eegmat and not args.recordings:
        raise NeurofbError("give training data: --eegmat DIR and/or --recordings PATH...")
    if not args.eegmat and (args.subjects is not None or args.cache is not None):
        flag = "--subjects" if args.subjects is not None else "--cache"
        raise NeurofbError(f"{flag} is for --eegmat (its subjects, its feature cache): give "
                           "--eegmat DIR, or leave it out")
    if args.resume and not args.checkpoint:
        raise NeurofbError("--resume needs --checkpoint DIR")
    if not args.baseline > 0:
        raise NeurofbError(f"--baseline must be a positive number of seconds, got "
                           f"{args.baseline}")
    _check_paths(args)
    recipe = train_config(args)
    metrics = read_metrics(args.metrics) if args.metrics else {}
    if metrics:
        check_cv(metrics, args.metrics, subjects=_eegmat_subjects(args), recipe=recipe,
                 baseline_s=args.baseline, recordings=bool(args.recordings),
                 init=bool(args.init))
    torch.set_num_threads(max(1, args.threads))
    init, parent = None, None
    if args.init:
        init, init_meta = load_model(args.init)
        parent = {"path": str(Path(args.init).resolve()), "name": init_meta.get("name"),
                  "sha256": init_meta["weights"]["sha256"]}
    fs, data = _data(args)
    if metrics:
        check_cv_windows(metrics, args.metrics, data, fs.window_s)
    if args.init:  # what the parent learnt from is in this model too (train/test overlap)
        data["parent"] = init_meta.get("training", {}).get("data", {})
    if len(np.unique(fs.y)) < 2:
        raise NeurofbError("the training data holds only one class; it needs rest and task")
    try:  # every member of both modes can be trained and validated: said before any epoch
        check_training(fs, recipe=recipe, baseline_s=args.baseline, init=init)
    except ValueError as err:
        raise NeurofbError(str(err)) from None
    world = ddp.setup()
    bar = tqdm(desc="training", unit="epoch", disable=world.rank != 0, file=sys.stderr)

    n_members = recipe.n_members if init is None else init["cold"].n_members  # the parent's

    def progress(row: dict) -> None:
        bar.update(1)
        bar.set_postfix_str(f"{row['mode']} member {row['member'] + 1}/{n_members} "
                            f"{row['stage']} val AUC {row['val_auc']:.3f}")

    try:
        results = train_modes(fs, recipe=recipe, baseline_s=args.baseline, init=init,
                              device=args.device, logdir=args.logdir,
                              checkpoint_dir=args.checkpoint, resume=args.resume,
                              progress=progress)
    except ValueError as err:
        raise NeurofbError(str(err)) from None
    finally:
        bar.close()
    if world.rank == 0:
        out = save_trained_models(
            results, fs, args.out, data=data, name=args.name or Path(args.out).name,
            baseline_s=args.baseline, metrics=metrics,
            extra={"parent": parent} if parent else None, overwrite=args.overwrite)
        summary = {"out": str(out), "device": results["cold"].device,
                   "world_size": results["cold"].world_size,
                   "seconds": {m: round(r.seconds, 1) for m, r in results.items()},
                   "members": {m: [{"val_subjects": i["val_subjects"],
                                    "best_val_auc": i.get("stage2", i.get("stage1", {}))
                                    .get("best_val_auc")} for i in r.members]
                               for m, r in results.items()}}
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            took = ", ".join(f"{m} {s:.0f} s" for m, s in summary["seconds"].items())
            n = results["cold"].recipe.n_members  # with --init: the parent's
            print(f"wrote {out}: cold and baseline ensembles of {n} members "
                  f"({took} on {summary['device']} x{summary['world_size']})")
        unvalidated = [f"{mode} members {', '.join(map(str, r.extra['unvalidated_members']))}"
                       for mode, r in results.items() if r.extra.get("unvalidated_members")]
        if unvalidated:
            print(f"warning: {'; '.join(unvalidated)} could not be validated (no held-out "
                  "subjects with both rest and task): each was fine-tuned for the full "
                  "--epochs without early stopping, as model.json records "
                  "(training.modes.*.unvalidated_members); add recordings to validate them",
                  file=sys.stderr)
    ddp.teardown()
    return 0
