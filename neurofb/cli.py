"""The ``neurofb`` command.

Each subcommand lives in its own module in :mod:`neurofb.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed
``argparse.Namespace`` and returning an exit code). Command modules import heavy dependencies
(torch, mne, brainflow) inside their ``run`` function so that ``neurofb --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from neurofb import __version__, commands
from neurofb.commands.options import LazyParser
from neurofb.errors import NeurofbError


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand found in :mod:`neurofb.commands`."""
    parser = argparse.ArgumentParser(
        prog="neurofb",
        description="Neurofeedback for attention training (BrainFlow + MNE + PyTorch + PyQt6).",
    )
    parser.add_argument("--version", action="version", version=f"neurofb {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=LazyParser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"neurofb.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:  # options.py holds shared flags, not a command
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``neurofb`` command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except NeurofbError as err:
        print(f"neurofb {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"neurofb {args.command}: interrupted", file=sys.stderr)
        return 130
