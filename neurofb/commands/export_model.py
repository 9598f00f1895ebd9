"""``neurofb export-model``: write a model folder's network as ONNX (what the engine runs).

::

    neurofb export-model models/my-model                 # the graphs + their hashes in model.json
    neurofb export-model models/my-model --brainflow Fz,C3,Cz,C4,Pz --sfreq 250 \
        --out focus-bf.onnx
    neurofb export-model models/my-model --int8 --out focus-int8.onnx

Model folders written by ``neurofb train``, ``calibrate`` and the app's retraining already hold
their graphs (``model.onnx`` for cold mode, ``baseline.onnx`` for baseline mode); this command
re-exports them (after an upgrade of torch or onnx, or when a graph is missing), writes a
one-input graph BrainFlow's ``MLModel`` (ONNX classifier) can run on a fixed montage and rate
(cold mode, the Welch front end inside), or an int8-quantised graph (smaller; for other
runtimes; the engine keeps the float64 ones). ``--out`` must be a new file (``--force``
replaces one) and never lies inside the model folder exported.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from neurofb.config import MAX_SFREQ

#: Lowest rate of a BrainFlow graph: twice the model's top frequency (45 Hz).
MIN_SFREQ = 90


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export-model`` subcommand."""
    p = subparsers.add_parser(
        "export-model",
        help="export a model folder's network to ONNX (model.onnx, hashed in model.json)",
        description="Export the networks of a model folder to model.onnx and baseline.onnx "
        "(float64, ONNX opset 17), checked against torch, and record their SHA-256 in "
        "model.json: the engine runs them with ONNX Runtime and refuses one that does not "
        "match. Needs torch. With --brainflow, write instead a one-input graph for a fixed list "
        "of electrodes and sampling rate that BrainFlow's MLModel "
        "(BrainFlowClassifiers.ONNX_CLASSIFIER) runs; with --int8, an int8-quantised graph. "
        "Those go to --out: a new file (--force replaces one), never inside DIR.",
    )
    p.add_argument("model_dir", metavar="DIR", help="the model folder")
    p.add_argument("--brainflow", default=None, metavar="CH,CH,...",
                   help="electrodes (10-20 names, in the order you will pass them) of a "
                        "one-input graph for BrainFlow's MLModel; needs --out")
    p.add_argument("--sfreq", type=_sfreq, default=None, metavar="HZ",
                   help=f"with --brainflow: the headset's sampling rate, an integer from "
                        f"{MIN_SFREQ} to {MAX_SFREQ:g} (default 250)")
    p.add_argument("--int8", action="store_true",
                   help="write an int8-quantised graph (ONNX Runtime dynamic quantisation, "
                        "float32 inputs) to --out: about a third of the float64 graph's size; "
                        "AUC change measured by `neurofb bench model`")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="with --brainflow or --int8: the .onnx file to write (new, never "
                        "inside DIR)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out file (never one inside DIR)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=run)


def _sfreq(text: str) -> int:
    """argparse type: an integer sampling rate the BrainFlow graph can serve."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer number of Hz, got {text!r}"
                                         ) from None
    if not MIN_SFREQ <= value <= MAX_SFREQ:
        raise argparse.ArgumentTypeError(f"must be from {MIN_SFREQ} to {MAX_SFREQ:g} Hz, got "
                                         f"{text}")
    return value


def _check(args: argparse.Namespace) -> Path | None:
    """The flags fit together, DIR exists and --out may be written (before anything loads);
    the --out path, or None when the folder's own graphs are exported."""
    from neurofb import paths
    from neurofb.errors import ModelError, NeurofbError

    if args.int8 and args.brainflow is not None:
        raise NeurofbError("give --int8 or --brainflow, not both (each writes its own graph)")
    if args.sfreq is not None and args.brainflow is None:
        raise NeurofbError("--sfreq is the headset's rate of a --brainflow graph; without "
                           "--brainflow it has no use: leave it out")
    model_dir = paths.check_input(args.model_dir, what="model folder", error=ModelError)
    if not (args.int8 or args.brainflow is not None):
        if args.out or args.force:
            raise NeurofbError(f"{'--out' if args.out else '--force'} is for --brainflow and "
                               "--int8; a model folder's graphs are DIR/model.onnx and "
                               "DIR/baseline.onnx")
        return None
    if not args.out:
        raise NeurofbError(f"{'--int8' if args.int8 else '--brainflow'} needs --out FILE (the "
                           "graph is not a model folder's)")
    with _naming_out(Path(args.out), always=True):
        return paths.check_new_file(args.out, force=args.force, inputs=(model_dir,),
                                    what="graph file", error=ModelError)


@contextmanager
def _naming_out(out: Path, *, always: bool = False) -> Iterator[None]:
    """A ModelError about the file ``out`` names the option it came from: ``--out PATH``
    (``always``: every ModelError is about it)."""
    from neurofb.errors import ModelError

    try:
        yield
    except ModelError as err:
        text = str(err)
        if str(out) in text:
            raise ModelError(text.replace(str(out), f"--out {out}", 1)) from None
        if always:
            raise ModelError(f"--out {out}: {text}") from None
        raise


def run(args: argparse.Namespace) -> int:
    """Export; print what was written."""
    out = _check(args)
    if args.int8:
        from neurofb.focus.export import export_int8

        with _naming_out(out):
            info = export_int8(args.model_dir, out)
        if args.json:
            print(json.dumps(info, indent=1))
        else:
            print(f"wrote {info['file']} ({info['bytes']} bytes; float32 graph "
                  f"{info['float32_bytes']} bytes): inputs 'feats', 'pos' float32, cold mode; "
                  f"SHA-256 {info['sha256']}")
        return 0
    if args.brainflow is not None:
        from neurofb.focus.export import export_brainflow

        channels = [c.strip() for c in args.brainflow.split(",") if c.strip()]
        with _naming_out(out):
            info = export_brainflow(args.model_dir, channels, out,
                                    sfreq=250 if args.sfreq is None else args.sfreq)
        if args.json:
            print(json.dumps(info, indent=1))
        else:
            print(f"wrote {info['file']}: input 'eeg' {info['shape']} float64 (µV, filtered, "
                  f"{info['sfreq']} Hz, electrodes {', '.join(info['channels'])}), output "
                  f"'focus' (1,), cold mode; SHA-256 {info['sha256']}")
        return 0
    from neurofb.focus.export import export_folder

    section = export_folder(args.model_dir)
    if args.json:
        print(json.dumps(section, indent=1))
    else:
        files = [section["file"]] + [v["file"] for v in section.values()
                                     if isinstance(v, dict) and "file" in v]
        print(f"wrote {', '.join(files)} in {args.model_dir} (opset {section['opset']}, "
              f"float64; largest difference from torch {section['checked_max_abs_diff']:.1e}); "
              "their SHA-256 recorded in model.json", file=sys.stdout)
    return 0
