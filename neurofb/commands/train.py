"""``neurofb train``: train the focus model on eegmat and/or a user's labelled recordings.

::

    neurofb train --eegmat DATA/eegmat --out models/mine
    neurofb train --recordings ~/recordings --init models/focus-default --out models/personal
    torchrun --nproc_per_node 2 -m neurofb train --eegmat DATA/eegmat --out models/ddp

Runs on CUDA with mixed precision when present, on the CPU otherwise, and under ``torchrun``
(DDP; only rank 0 writes). ``--logdir`` writes TensorBoard logs; ``--checkpoint DIR`` saves a
resumable checkpoint after every epoch and ``--resume`` continues from it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from neurofb.commands.options import add_training_options, cache_dir, train_config


def _select(args: argparse.Namespace, ws: object, cfg: object) -> dict:
    """Choose the recipe by inner validation (``--recipes grid``) or keep the flags' recipe."""
    from neurofb.errors import NeurofbError
    from neurofb.training.evaluate import RECIPES, select_recipe

    if args.recipes not in RECIPES:
        raise NeurofbError(f"unknown --recipes {args.recipes!r}; choose {sorted(RECIPES)}")
    if args.resume or len(RECIPES[args.recipes]) == 1:
        return {"recipes": args.recipes, "chosen": {}, "scores": []}
    print(f"choosing among {len(RECIPES[args.recipes])} recipes by inner validation...",
          file=sys.stderr)
    chosen, scores = select_recipe(ws, RECIPES[args.recipes], cfg, device=args.device)
    return {"recipes": args.recipes, "chosen": chosen, "scores": scores}


def _read_metrics(path: str) -> dict:
    """Evaluation results for model.json; an ``evaluate --cv`` result is summarised."""
    from pathlib import Path

    from neurofb.errors import NeurofbError

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise NeurofbError(f"cannot read --metrics {path}: {err}") from None
    if isinstance(doc, dict) and "summary" in doc and "folds" in doc:
        cv = {"protocol": doc["protocol"], "summary": doc["summary"],
              "folds": [{k: f[k] for k in ("fold", "test_subjects", "chosen", "best_epoch")}
                        for f in doc["folds"]]}
        if "summary_calibrated" in doc:
            cv["summary_calibrated"] = doc["summary_calibrated"]
        return {"cross_validation": cv}
    return doc if isinstance(doc, dict) else {"metrics": doc}


def _check_paths(args: argparse.Namespace) -> None:
    """Every input exists; --out and --checkpoint are writable and none of the inputs."""
    from pathlib import Path

    from neurofb import paths
    from neurofb.errors import ModelError, NeurofbError

    inputs: list[Path] = []
    if args.eegmat:
        inputs.append(paths.check_input(args.eegmat, what="eegmat folder"))
    for item in args.recordings or ():
        inputs.append(paths.check_input(item, what="recording"))
    if args.init:
        inputs.append(paths.check_input(args.init, what="model folder", error=ModelError))
    if args.metrics:
        inputs.append(paths.check_input(args.metrics, what="metrics file"))
    out = paths.check_output_folder(args.out, inputs=inputs, what="model folder",
                                    error=ModelError)
    if (out / "model.json").exists() and not args.overwrite:
        raise NeurofbError(f"{args.out} already holds a model; use --overwrite or another --out")
    if args.checkpoint:
        ckpt = paths.check_output_folder(args.checkpoint, inputs=[*inputs, out],
                                         what="checkpoint folder", error=ModelError)
        if (ckpt / "state.json").exists() and not (args.resume or args.overwrite):
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
    p.add_argument("--init", metavar="MODEL", help="start from this model folder")
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    p.add_argument("--name", default=None, help="model name (default: the --out folder name)")
    p.add_argument("--overwrite", "--force", dest="overwrite", action="store_true",
                   help="replace a model in --out (never the --init model) and a checkpoint "
                        "in --checkpoint")
    p.add_argument("--metrics", metavar="JSON",
                   help="evaluation results to record in model.json (e.g. from evaluate --cv)")
    p.add_argument("--recipes", default="default",
                   help="'grid': choose the recipe among the cross-validation candidates by "
                        "inner validation on the training subjects first (default: 'default')")
    p.add_argument("--robustness", action="store_true",
                   help="report accuracy/AUC under FGSM and PGD on the validation subjects")
    p.add_argument("--logdir", metavar="DIR", help="TensorBoard log folder")
    p.add_argument("--checkpoint", metavar="DIR", help="save a resumable checkpoint here")
    p.add_argument("--resume", action="store_true", help="resume from --checkpoint")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_training_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train, then (rank 0) write the model folder."""
    from pathlib import Path

    import numpy as np
    import torch
    from tqdm import tqdm

    from neurofb.errors import NeurofbError
    from neurofb.focus.io import load_model
    from neurofb.training import ddp
    from neurofb.training.eegmat import dataset_description, load_eegmat
    from neurofb.training.model_folder import save_trained_model
    from neurofb.training.recordings import load_recordings
    from neurofb.training.train import train
    from neurofb.training.windows import concat

    if not args.eegmat and not args.recordings:
        raise NeurofbError("give training data: --eegmat DIR and/or --recordings PATH...")
    if args.resume and not args.checkpoint:
        raise NeurofbError("--resume needs --checkpoint DIR")
    _check_paths(args)
    cfg = train_config(args)
    torch.set_num_threads(max(1, args.threads))
    # a personalised model's head is one person's: retraining starts from its population part
    init = load_model(args.init)[0].population() if args.init else None
    sfreq = init.sfreq if init is not None else 128.0
    window_s = init.n_times / init.sfreq if init is not None else 2.0
    sets, data = [], {}
    if args.eegmat:
        ws = load_eegmat(args.eegmat, args.subjects, sfreq=sfreq, window_s=window_s,
                         cache_dir=cache_dir(args))
        sets.append(ws)
        data["eegmat"] = dataset_description(ws, args.eegmat)
    if args.recordings:
        rs = load_recordings(args.recordings, sfreq=sfreq, window_s=window_s)
        if args.eegmat:  # keep recording ids apart from eegmat subject numbers
            rs = type(rs)(**{**rs.__dict__, "subject": rs.subject + 1000})
        sets.append(rs)
        data["recordings"] = {"files": rs.files, "windows": len(rs)}
    ws = concat(sets)
    if len(np.unique(ws.y)) < 2:
        raise NeurofbError("the training data holds only one class; it needs rest and task")
    world = ddp.setup()
    bar = tqdm(total=cfg.max_epochs, desc="training", unit="epoch", disable=world.rank != 0,
               file=sys.stderr)

    def progress(row: dict) -> None:
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in row.items()
                         if k in ("train_loss", "val_auc")})

    selection = _select(args, ws, cfg)
    cfg = replace(cfg, **selection["chosen"])
    try:
        result = train(ws, config=cfg, init=init, device=args.device, logdir=args.logdir,
                       checkpoint_dir=args.checkpoint, resume=args.resume, progress=progress)
    except ValueError as err:
        raise NeurofbError(str(err)) from None
    finally:
        bar.close()
    metrics = _read_metrics(args.metrics) if args.metrics else {}
    if args.robustness and result.val_subjects:
        from neurofb.training.adversarial import robustness

        val = ws.of_subjects(result.val_subjects)
        metrics["robustness"] = robustness(result.model, val.X, val.y, val.positions())
    extra = {"recipe_selection": selection}
    if args.init:
        extra["parent"] = {"path": args.init, "sha256": load_model(args.init)[1]["weights"]
                           ["sha256"]}
    if world.rank == 0:
        out = save_trained_model(
            result, ws, args.out, data=data, name=args.name or Path(args.out).name,
            metrics=metrics, extra=extra, overwrite=args.overwrite,
        )
        summary = {"out": str(out), "best_epoch": result.best_epoch,
                   "val_auc": result.best_score, "train_subjects": result.train_subjects,
                   "val_subjects": result.val_subjects, "seconds": round(result.seconds, 1),
                   "device": result.device, "world_size": result.world_size,
                   "final_train_loss": result.history[-1]["train_loss"]}
        if "robustness" in metrics:
            summary["robustness"] = metrics["robustness"]
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print(f"wrote {out}: best epoch {result.best_epoch}, validation AUC "
                  f"{result.best_score:.3f} (subjects {result.val_subjects}), "
                  f"{result.seconds:.0f} s on {result.device} x{result.world_size}")
            for row in summary.get("robustness", []):
                print(f"  {row['attack']} eps={row['eps']:g}: AUC {row['auc']:.3f}, "
                      f"balanced accuracy {row['balanced_accuracy']:.3f}")
    ddp.teardown()
    return 0
