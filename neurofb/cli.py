"""The ``neurofb`` command.

Each subcommand lives in its own module in :mod:`neurofb.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed
``argparse.Namespace`` and returning an exit code). Command modules import heavy dependencies
(torch, mne, brainflow) inside their ``run`` function so that ``neurofb --help`` stays fast.

Every error a user can cause is one line on stderr, ``neurofb COMMAND: error: what to do``,
exit code 2, never a traceback: bad flags (argparse), every :class:`~neurofb.errors.NeurofbError`,
and, as a last guard, an ``OSError`` (a file that cannot be read or written). ``--debug`` (or
``-v``) shows the traceback instead (see ``docs/safety.md``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
import traceback
import warnings

from neurofb import __version__, commands
from neurofb.commands.options import LazyParser, OneLineParser
from neurofb.errors import NeurofbError


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand found in :mod:`neurofb.commands`."""
    parser = OneLineParser(
        prog="neurofb",
        description="Neurofeedback for attention training (BrainFlow + MNE + PyTorch + PyQt6).",
    )
    parser.add_argument("--version", action="version", version=f"neurofb {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (and a traceback with an error)")
    parser.add_argument("--debug", action="store_true",
                        help="debug log output and the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=LazyParser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"neurofb.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:  # options.py holds shared flags, not a command
            register(sub)
    for command in sub.choices.values():  # `neurofb replay ... --debug` works too
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="the full traceback of an error")
    return parser


def _quiet_third_party_warnings() -> None:
    # brainflow imports pkg_resources, which warns on every start; it is not the user's concern.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated",
                            category=UserWarning)
    # pyxdf logs how it split a file's clock readings ("Segments and clock-segments differ"):
    # bookkeeping the user cannot act on; -v shows it.
    logging.getLogger("pyxdf").setLevel(logging.ERROR)


#: Commands that run the engine (small per-window arithmetic): numpy's BLAS needs no threads of
#: its own there, and starting them is a good part of ``import numpy``. (The app's Personalise
#: fits small logistic regressions, and its Retrain runs torch, which has its own threads.)
ENGINE_COMMANDS = frozenset({"app", "boards", "export", "import", "replay", "sessions", "stream"})


def _one_blas_thread(argv: list[str]) -> None:
    """For an engine command, ask OpenBLAS for one thread before numpy is first imported
    (20–40 ms less start-up on a 2-core machine); a value the user set is kept."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in ENGINE_COMMANDS and "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _refuse_empty(args: argparse.Namespace) -> None:
    """An empty value (``--out ""``) is an error, never read as "the default" or as ".": every
    text option names a path, a board, a stream or a setting."""
    for dest, value in vars(args).items():
        if dest == "argv":  # the command line itself, not an option
            continue
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, str) and not v.strip() for v in values):
            name = f"--{dest.replace('_', '-')}" if dest not in _POSITIONALS else f"the {dest}"
            raise NeurofbError(f"{name} is empty: give a value, or leave it out")


#: Positional arguments, named as such in messages.
_POSITIONALS = ("path", "recording", "model_dir", "file", "names", "command")


def main(argv: list[str] | None = None) -> int:
    """Run the ``neurofb`` command line; return the process exit code."""
    _one_blas_thread(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the command's own parser: its name, and its --help
        commands = next((a.choices for a in parser._actions
                         if isinstance(a, argparse._SubParsersAction)), {})
        owner = commands.get(getattr(args, "command", None), parser)
        owner.error(f"unrecognized arguments: {' '.join(extra)}")
    #: The command line as run (results that record how they were made store it).
    args.argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(args.debug or args.verbose)
    level = logging.DEBUG if args.debug else logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not debug:
        _quiet_third_party_warnings()
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        _refuse_empty(args)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a reader that went away is handled below
        return code
    except NeurofbError as err:
        return _fail(args, str(err), debug)
    except BrokenPipeError as err:
        if _stdout_gone():  # `neurofb boards | head`: the reader has what it wanted
            return 128 + 13  # as a process ended by SIGPIPE
        return _fail(args, f"cannot access: {err.strerror or err}", debug)
    except OSError as err:  # a file the command could not read or write: say which
        where = f" {err.filename}" if err.filename else ""
        if isinstance(err, FileExistsError | NotADirectoryError) and err.filename:
            # a folder was to be made or read where a file is (or under one)
            return _fail(args, f"{err.filename} is (or lies under) a file where a folder is "
                               "needed: give a folder", debug)
        return _fail(args, f"cannot access{where}: {err.strerror or err}", debug)
    except KeyboardInterrupt:
        print(f"neurofb {args.command}: interrupted", file=sys.stderr)
        return 130


def _stdout_gone() -> bool:
    """Whether standard output is a pipe whose reader has closed it; if so, the rest of the
    output is sent to the null device, so that Python's final flush stays quiet."""
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()  # not on Windows: there, the error is reported
        poller.register(fd, select.POLLOUT)
        events = poller.poll(0)
    except (AttributeError, OSError, ValueError):
        return False
    if not any(mask & (select.POLLERR | select.POLLHUP) for _, mask in events):
        return False  # stdout is fine: the broken pipe was something else
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return True


def _fail(args: argparse.Namespace, message: str, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    text = " ".join(message.split())  # one line, whatever the message held
    print(f"neurofb {args.command}: error: {text}", file=sys.stderr)
    return 2
