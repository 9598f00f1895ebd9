"""``neurofb calibrate``: personalise the focus model from one calibration recording.

::

    neurofb calibrate --model models/focus-default --recording REC --out models/me

The recording needs labelled rest and task blocks (the app's calibration exercise marks them).
The latest 30 % of each class's windows are held back; on the rest (about a second on a CPU, no
torch) the model's graphs score the calibration windows and a personal head — a logistic
regression on the population logit and the person's log band powers per electrode — is fitted
for each operating mode (cold; baseline, with the recording's first rest as the baseline). AUC
on the held-back windows is reported before and after, and the personalised model is written to
``--out``: the parent's files unchanged, ``personal.safetensors``, and a model.json recording the
parent model's hash, the calibration data's hash and the electrodes it is tied to (a stream
without all of them is refused with a clear error). Streams with the personalised model use the
head of the mode they run in (``--baseline 60``: the baseline head).
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``neurofb calibrate``."""
    from neurofb.commands.options import plain

    p = subparsers.add_parser(
        "calibrate", help="personalise the focus model from a calibration recording",
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="DIR", default=None,
                   help="model to start from (default: the shipped models/focus-default)")
    p.add_argument("--recording", required=True, metavar="PATH",
                   help="recording with labelled rest/task blocks")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="personalised model folder: new or empty (a folder holding other "
                        "files is refused)")
    p.add_argument("--force", action="store_true",
                   help="replace the model of a model folder --out (never the --model itself)")
    p.add_argument("--hold-back", type=float, default=0.3,
                   help="share of each class kept out for the before/after report (0.3)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Personalise and report before/after."""
    from neurofb import paths
    from neurofb.errors import ModelError, NeurofbError, RecordingError
    from neurofb.focus.card import check_model_out
    from neurofb.training.personalise import improved, personalise

    if not 0 < args.hold_back < 1:
        raise NeurofbError(f"--hold-back must be between 0 and 1, got {args.hold_back}")
    model_dir = (paths.check_input(args.model, what="model folder", error=ModelError)
                 if args.model else paths.default_model_dir())
    recording = paths.check_input(args.recording, what="recording", error=RecordingError)
    out = paths.check_output_folder(args.out, inputs=(model_dir, recording),
                                    what="model folder", error=ModelError)
    check_model_out(out, overwrite=args.force)
    res = personalise(model_dir, recording, out, hold_back_fraction=args.hold_back,
                      overwrite=args.force)
    if args.json:
        print(json.dumps({k: res[k] for k in ("before", "after", "after_baseline", "seconds",
                                              "windows", "held_back", "electrodes", "out_dir",
                                              "notes")
                          if k in res}, indent=2, default=float))
    else:
        b, a = res["before"], res["after"]
        print(f"calibrated on {res['windows']} windows in {res['seconds']:.1f} s; "
              f"held back {res['held_back']} windows")
        print(f"  AUC {b['auc']:.3f} -> {a['auc']:.3f}, balanced accuracy "
              f"{b['balanced_accuracy']:.3f} -> {a['balanced_accuracy']:.3f} (cold mode)")
        if "after_baseline" in res:
            ab = res["after_baseline"]
            print(f"  baseline mode with the personal head: AUC {ab['auc']:.3f}, balanced "
                  f"accuracy {ab['balanced_accuracy']:.3f}")
        print(f"  tied to the electrodes {', '.join(res['electrodes'])}")
        print(f"wrote {res['out_dir']}")
    for note in res.get("notes", []):
        print(f"warning: {note}", file=sys.stderr)
    if not improved(res):
        print(f"warning: the personal model did worse than {model_dir.name} on the held-back "
              "windows (AUC above): were the calibration's blocks followed? Consider keeping "
              "the population model or recording a new calibration", file=sys.stderr)
    return 0
