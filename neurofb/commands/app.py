"""``neurofb app``: open the desktop app (PyQt6, installed as ``neurofb_ui``).

The engine never imports the UI at module level: the app is started as its own process
(``python -m neurofb_ui``), so this module and the whole ``neurofb`` package stay Qt-free.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys

from neurofb.errors import NeurofbError

_FIELDS = ("serial-port", "mac-address", "ip-address", "ip-port", "serial-number", "timeout",
           "other-info", "file")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``app`` subcommand."""
    p = subparsers.add_parser(
        "app",
        help="open the desktop app",
        description="Open the neurofb desktop app: live EEG, signal quality, focus feedback "
        "exercises, calibration, history and retraining. By default it streams the shipped "
        "real-EEG demo recording (no headset needed).",
    )
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the app's options (shared with ``python -m neurofb_ui``)."""
    p.add_argument("--source", default=None, metavar="synthetic|demo|lsl:NAME|FILE",
                   help="what to stream at start: the synthetic board, the real-EEG demo, an LSL "
                        "EEG stream (lsl:NAME, or lsl: for the first one), or a recording file "
                        "(default: the last source used, else the demo)")
    p.add_argument("--board", default=None, metavar="NAME",
                   help="stream from this BrainFlow board (cyton, ganglion, muse_s, …)")
    for flag in _FIELDS:
        p.add_argument(f"--{flag}", default=None, help=f"board connection field ({flag})")
    p.add_argument("--data-dir", default=None,
                   help="user data folder (recordings, session library, personal models)")
    p.add_argument("--lsl-out", nargs="?", const="neurofb", default=None, metavar="NAME",
                   help="publish focus and markers as LSL streams NAME-Focus, NAME-Markers "
                        "(the app's settings switch, turned on)")
    p.add_argument("--osc-out", default=None, metavar="HOST:PORT",
                   help="send focus, quality, band powers and rewards as OSC to HOST:PORT")
    p.add_argument("--lsl-local", action="store_true",
                   help="keep LSL on this computer (neurofb's loopback-only liblsl configuration)")
    p.add_argument("--lsl-config", default=None, metavar="FILE",
                   help="liblsl configuration file (lsl_api.cfg) to use")
    p.add_argument("--no-connect", action="store_true",
                   help="open the window without connecting to a source")
    p.add_argument("--quit-after", type=float, default=None, metavar="SECONDS",
                   help="close the window after this many seconds (demos, smoke tests)")


def app_argv(args: argparse.Namespace) -> list[str]:
    """The command line that starts the app process for these options."""
    argv = [sys.executable, "-m", "neurofb_ui"]
    for name in ("source", "board", "data_dir", "lsl_out", "osc_out", "lsl_config",
                 *(f.replace("-", "_") for f in _FIELDS)):
        value = getattr(args, name, None)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    if getattr(args, "lsl_local", False):
        argv.append("--lsl-local")
    if getattr(args, "no_connect", False):
        argv.append("--no-connect")
    if getattr(args, "quit_after", None) is not None:
        argv += ["--quit-after", str(args.quit_after)]
    return argv


def run(args: argparse.Namespace) -> int:
    """Start the app and wait for its window to close; return its exit code."""
    if importlib.util.find_spec("neurofb_ui") is None:
        raise NeurofbError("the desktop app (neurofb_ui) is not installed: run scripts/setup.sh")
    if importlib.util.find_spec("PyQt6") is None:
        raise NeurofbError("PyQt6 is not installed: pip install pyqt6 pyqtgraph")
    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        raise NeurofbError(
            "no display to open the window on (DISPLAY is not set): run it on a desktop, "
            'over ssh -X, or under a virtual display: xvfb-run -s "-screen 0 1400x900x24" '
            "neurofb app"
        )
    return subprocess.call(app_argv(args))
