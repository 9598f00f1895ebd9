"""``neurofb export-model``: write a model folder's network as ONNX (what the engine runs).

::

    neurofb export-model models/my-model                 # model.onnx + its hash in model.json
    neurofb export-model models/my-model --brainflow Fz,C3,Cz,C4,Pz --out focus-bf.onnx
    neurofb export-model models/my-model --int8 --out focus-int8.onnx

Model folders written by ``neurofb train``, ``calibrate`` and the app's retraining already hold
their ``model.onnx``; this command is for folders made before graphs were exported, and for a
one-input graph BrainFlow's ``MLModel`` (ONNX classifier) can run on a fixed montage, and for an
int8-quantised graph (smaller; for other runtimes; the engine keeps the float64 one).
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export-model`` subcommand."""
    p = subparsers.add_parser(
        "export-model",
        help="export a model folder's network to ONNX (model.onnx, hashed in model.json)",
        description="Export the network of a model folder to model.onnx (float64, ONNX opset "
        "16), checked against torch, and record its SHA-256 in model.json: the engine runs "
        "model.onnx with ONNX Runtime and refuses one that does not match. Needs torch. With "
        "--brainflow, write instead a one-input graph for a fixed list of electrodes that "
        "BrainFlow's MLModel (BrainFlowClassifiers.ONNX_CLASSIFIER) runs.",
    )
    p.add_argument("model_dir", metavar="DIR", help="the model folder")
    p.add_argument("--brainflow", default=None, metavar="CH,CH,...",
                   help="electrodes (10-20 names, in the order you will pass them) of a "
                        "one-input graph for BrainFlow's MLModel; needs --out")
    p.add_argument("--int8", action="store_true",
                   help="write an int8-quantised graph (ONNX Runtime dynamic quantisation, "
                        "float32 inputs) to --out: about half the size; AUC change measured "
                        "by `neurofb bench model`")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="with --brainflow or --int8: the .onnx file to write")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export; print what was written."""
    from neurofb.errors import NeurofbError

    if args.int8:
        if not args.out or args.brainflow is not None:
            raise NeurofbError("--int8 needs --out FILE (and no --brainflow)")
        from neurofb.focus.export import export_int8

        info = export_int8(args.model_dir, args.out)
        if args.json:
            print(json.dumps(info, indent=1))
        else:
            print(f"wrote {info['file']} ({info['bytes']} bytes; float32 graph "
                  f"{info['float32_bytes']} bytes): inputs 'x', 'pos' float32; SHA-256 "
                  f"{info['sha256']}")
        return 0
    if args.brainflow is not None:
        if not args.out:
            raise NeurofbError("--brainflow needs --out FILE (the graph is not a model folder's)")
        from neurofb.focus.export import export_brainflow

        channels = [c.strip() for c in args.brainflow.split(",") if c.strip()]
        info = export_brainflow(args.model_dir, channels, args.out)
        if args.json:
            print(json.dumps(info, indent=1))
        else:
            print(f"wrote {info['file']}: input 'eeg' {info['shape']} float64 (µV, "
                  f"{info['sfreq']:g} Hz, electrodes {', '.join(info['channels'])}), output "
                  f"'focus' (1,); SHA-256 {info['sha256']}")
        return 0
    if args.out:
        raise NeurofbError("--out is for --brainflow and --int8; a model folder's graph is "
                           "DIR/model.onnx")
    from neurofb.focus.export import export_folder

    section = export_folder(args.model_dir)
    if args.json:
        print(json.dumps(section, indent=1))
    else:
        print(f"wrote {args.model_dir.rstrip('/')}/{section['file']} ({section['bytes']} bytes, "
              f"opset {section['opset']}, float64; largest difference from torch "
              f"{section['checked_max_abs_diff']:.1e}); SHA-256 {section['sha256']} recorded in "
              "model.json", file=sys.stdout)
    return 0
