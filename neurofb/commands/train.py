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
``--metrics`` records a cross-validation (``neurofb evaluate --cv … --out FILE``) in model.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from neurofb.commands.options import add_training_options, cache_dir, train_config


def read_metrics(path: str) -> dict[str, Any]:
    """Evaluation results for model.json; an ``evaluate --cv`` result is kept without its
    per-fold score arrays (they stay in the result's .npz).

    Read before training starts, so a wrong file costs no training.

    Raises
    ------
    NeurofbError
        The file cannot be read, is not JSON (or not text), or is an ``evaluate --cv`` result
        of the wrong form.
    """
    from neurofb.errors import NeurofbError

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise NeurofbError(f"cannot read --metrics {path}: {err.strerror or err}") from None
    except ValueError as err:  # not UTF-8 text, or not JSON
        raise NeurofbError(f"--metrics {path} is not a JSON file ({err}); give the result of "
                           "`neurofb evaluate --cv K --out FILE`") from None
    if not isinstance(doc, dict):
        return {"metrics": doc}
    if "summary" in doc and "protocol" in doc:
        try:
            return _cv_metrics(doc)
        except (AttributeError, TypeError) as err:
            raise NeurofbError(f"--metrics {path} looks like an evaluate --cv result but its "
                               f"summary or folds are not of that form ({err})") from None
    return doc


def _cv_metrics(doc: dict[str, Any]) -> dict[str, Any]:
    """An ``evaluate --cv`` result without its per-fold scores."""
    summary = {mode: {layout: {method: {k: v for k, v in m.items()
                                        if not k.startswith("fold_")}
                               for method, m in row.items()}
                      for layout, row in by_layout.items()}
               for mode, by_layout in doc["summary"].items()}
    return {"cross_validation": {
            "command": "neurofb evaluate --cv 6 --cv-seeds 0,1,2 --baseline 60 --calibrate "
                       "--montage all (scripts/cv_default.sh)",
            "protocol": doc["protocol"], "summary": summary, "paired": doc.get("paired"),
            "decision": doc.get("decision"), "late_rest": doc.get("late_rest"),
            "folds": [{k: f[k] for k in ("seed", "fold", "test", "seconds") if k in f}
                      for f in doc.get("folds", [])]}}


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
        if held and not (args.resume or args.overwrite):
            raise ModelError(f"{ckpt} holds a checkpoint of another training: --resume it, "
                             "pass --overwrite to start afresh, or choose another --checkpoint")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``neurofb train``."""
    p = subparsers.add_parser(
        "train", help="train the focus model (eegmat and/or labelled recordings)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--eegmat", metavar="DIR", help="eegmat folder (SubjectNN_1/2.edf)")
    p.add_argument("--subjects", default=None, help="eegmat subjects, e.g. 0,1,5 or 0-9 "
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
                   help="evaluation results to record in model.json (from evaluate --cv --out)")
    p.add_argument("--logdir", metavar="DIR", help="TensorBoard log folder")
    p.add_argument("--checkpoint", metavar="DIR", help="save a resumable checkpoint here")
    p.add_argument("--resume", action="store_true", help="resume from --checkpoint")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_training_options(p)
    p.set_defaults(func=run)


def _data(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The training windows (eegmat and/or recordings) and their description."""
    from neurofb.training.eegmat import dataset_description, load_eegmat
    from neurofb.training.recordings import load_recordings
    from neurofb.training.windows import concat

    sets, data = [], {}
    if args.eegmat:
        fs = load_eegmat(args.eegmat, args.subjects, cache_dir=cache_dir(args))
        sets.append(fs)
        data["eegmat"] = dataset_description(fs, args.eegmat)
    if args.recordings:
        rs = load_recordings(args.recordings)
        if args.eegmat:  # keep recording ids apart from eegmat subject numbers
            rs = type(rs)(**{**rs.__dict__, "subject": rs.subject + 1000})
        sets.append(rs)
        data["recordings"] = {"files": rs.files, "windows": len(rs)}
    return concat(sets), data


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
    if args.resume and not args.checkpoint:
        raise NeurofbError("--resume needs --checkpoint DIR")
    if not args.baseline > 0:
        raise NeurofbError(f"--baseline must be a positive number of seconds, got "
                           f"{args.baseline}")
    _check_paths(args)
    metrics = read_metrics(args.metrics) if args.metrics else {}
    recipe = train_config(args)
    torch.set_num_threads(max(1, args.threads))
    init, parent = None, None
    if args.init:
        init, init_meta = load_model(args.init)
        parent = {"path": args.init, "sha256": init_meta["weights"]["sha256"]}
    fs, data = _data(args)
    if len(np.unique(fs.y)) < 2:
        raise NeurofbError("the training data holds only one class; it needs rest and task")
    try:  # every member of both modes can be trained and validated: said before any epoch
        check_training(fs, recipe=recipe, baseline_s=args.baseline, init=init)
    except ValueError as err:
        raise NeurofbError(str(err)) from None
    world = ddp.setup()
    bar = tqdm(desc="training", unit="epoch", disable=world.rank != 0, file=sys.stderr)

    def progress(row: dict) -> None:
        bar.update(1)
        bar.set_postfix_str(f"{row['mode']} member {row['member'] + 1}/{recipe.n_members} "
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
