"""Options shared by several ``neurofb`` subcommands, defined once.

- :func:`add_board_arguments` / :func:`board_request`: ``--board`` and BrainFlow's connection
  flags, or ``--board lsl`` with ``--stream``/``--type`` (``stream``).
- :func:`add_file_arguments`: ``--stream``, ``--montage``, ``--unit`` for files that need them
  (XDF, OpenBCI GUI) (``replay``, ``import``).
- :func:`add_output_arguments` / :func:`output_requests`: ``--lsl-out``, ``--osc-out``,
  ``--markers-in`` and the LSL configuration (``stream``, ``replay``).
- :func:`add_engine_arguments` / :func:`engine_config`: the pipeline's window, hop, mains and
  gate, and the focus target (``stream``, ``replay``).
- :func:`add_training_options` / :func:`train_config`: the focus model's training recipe
  (``train``, ``evaluate --cv``).
- :func:`positive_float`, :func:`non_negative_float`: argparse types for seconds;
  :func:`torch_device`: for ``--device``.

Nothing heavy is imported here: ``neurofb --help`` builds every parser.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
from typing import Any, NoReturn

from neurofb.errors import NeurofbError

__all__ = [
    "CONNECTION_FLAGS",
    "LazyParser",
    "add_board_arguments",
    "add_engine_arguments",
    "add_file_arguments",
    "add_output_arguments",
    "add_training_options",
    "board_request",
    "cache_dir",
    "engine_config",
    "non_negative_float",
    "output_requests",
    "positive_float",
    "positive_int",
    "torch_device",
    "train_config",
]

#: Connection flags passed through to :func:`neurofb.stream.brainflow.open_board`.
CONNECTION_FLAGS: dict[str, str] = {
    "file": "BrainFlow CSV to play back (--board playback) or the file a file board reads",
    "master_board": "board that recorded the --file (playback/streaming boards; default synthetic)",
    "serial_port": "serial port of the board (/dev/ttyUSB0, COM3)",
    "mac_address": "Bluetooth MAC address",
    "ip_address": "IP address of a Wi-Fi/network board",
    "ip_port": "IP port",
    "ip_protocol": "IP protocol: udp, tcp or none",
    "serial_number": "serial number of the device (Muse, Unicorn, …)",
    "timeout": "seconds to wait for the device",
    "other_info": "board-specific extra settings, passed to BrainFlow as is",
}

class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see PROG --help)`` to stderr and exit with 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class LazyParser(OneLineParser):
    """An argument parser that adds (some of) its arguments only when it is used.

    ``populate(parser)`` runs the first time this parser parses or prints help, so a command
    whose options cost an import (``bench``: every benchmark module's options) costs nothing
    while ``neurofb --help`` or another command builds the parser tree.
    """

    def __init__(self, *args: Any, populate: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._populate = populate

    def _ensure(self) -> None:
        populate, self._populate = self._populate, None
        if populate is not None:
            populate(self)

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        self._ensure()
        return super().parse_known_args(*args, **kwargs)

    def format_help(self) -> str:
        self._ensure()
        return super().format_help()

    def format_usage(self) -> str:
        self._ensure()
        return super().format_usage()


_METAVARS = {
    "file": "CSV", "master_board": "NAME", "serial_port": "PORT", "mac_address": "MAC",
    "ip_address": "IP", "ip_port": "PORT", "ip_protocol": None, "serial_number": "SERIAL",
    "timeout": "SECONDS", "other_info": "TEXT",
}  # fmt: skip


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def torch_device(text: str) -> str:
    """argparse type: a torch device this machine has (``cpu``, ``cuda``, ``cuda:N``, ``mps``).

    Checked when the flag is read, before any data is loaded: a typo or a GPU that is not
    there is a one-line error listing the devices there are, not a torch traceback later.
    """
    import torch

    here = ["cpu"]
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n_gpus:
        here += ["cuda", *(f"cuda:{i}" for i in range(n_gpus))]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        here.append("mps")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        device = None
    known = device is not None and (
        (device.type == "cpu" and device.index in (None, 0))
        or (device.type == "cuda" and (device.index or 0) < n_gpus)
        or (device.type == "mps" and "mps" in here))
    if not known:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a device of this machine; choose from {', '.join(here)} (torch "
            "device names: cpu, cuda, cuda:N, mps)")
    return text


def add_board_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--board`` and the BrainFlow connection flags to ``parser``."""
    parser.add_argument(
        "--board",
        default="synthetic",
        metavar="NAME",
        help="BrainFlow board: synthetic (default), playback, cyton, ganglion, muse_s, … "
        "(`neurofb boards` lists them all); or lsl for a Lab Streaming Layer EEG stream "
        "(with --stream NAME or --type TYPE)",
    )
    parser.add_argument("--type", default=None, metavar="TYPE",
                        help="--board lsl: the type of the LSL stream to read (default EEG)")
    for dest, text in CONNECTION_FLAGS.items():
        kwargs: dict[str, Any] = {"default": None, "help": text, "metavar": _METAVARS.get(dest)}
        if dest == "ip_port":
            kwargs["type"] = int
        elif dest == "timeout":
            kwargs["type"] = positive_float
        elif dest == "ip_protocol":
            kwargs["choices"] = ("udp", "tcp", "none")
        parser.add_argument(f"--{dest.replace('_', '-')}", dest=dest, **kwargs)


def warn(line: str) -> None:
    """Say a problem with the input on stderr, as every command says it (``warning: …``)."""
    print(f"warning: {line}", file=sys.stderr, flush=True)


def default_fallback(args: argparse.Namespace) -> str | None:
    """The target used when the default focus model cannot serve a source (too few known
    electrodes, unnamed channels): band-power engagement, with a warning — only when the user
    named no ``--target``, ``--model`` or ``--baseline`` (what they named is never replaced)."""
    named = (getattr(args, "target", None), getattr(args, "model", None),
             getattr(args, "baseline", None))
    return "engagement" if not any(named) else None


def plain(doc: str | None) -> str:
    """A module docstring as ``--help`` text: reST's inline markup (````x````, ``:role:`x```)
    and literal-block colons (``::``) as plain text."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", doc or "")
    text = text.replace("``", "`")
    text = re.sub(r"(?m)^::\n", "", text)
    return re.sub(r"::$", ":", text, flags=re.M)


def add_file_arguments(parser: argparse.ArgumentParser, *, lsl: bool = False) -> None:
    """``--stream``, ``--montage`` and ``--unit`` for sources that name no electrodes or units:
    an XDF file's stream (``replay``, ``export``) or, with ``lsl``, an LSL stream (``stream
    --board lsl``, which reads no files)."""
    if lsl:
        what = "the LSL stream to read (--board lsl; default the first of --type EEG)"
        named = "an LSL stream that names none (the OpenBCI GUI's)"
        united = "an LSL stream that gives none (the OpenBCI GUI's)"
    else:
        what = ("the stream of an XDF file to read (default the first of type EEG not "
                "published by neurofb)")
        named = "a file that names none (OpenBCI GUI files, XDF streams without labels)"
        united = "a file that gives none (XDF streams without units)"
    parser.add_argument("--stream", default=None, metavar="NAME", help=what)
    parser.add_argument(
        "--montage", default=None, metavar="PRESET|NAMES",
        help=f"channel names for {named}: cyton, cyton_daisy, ganglion, muse, another "
        "BrainFlow board, or Fz,Cz,Pz,… in order",
    )  # fmt: skip
    parser.add_argument(
        "--unit", default="auto", choices=("auto", "uV", "mV", "V"),
        help=f"amplitude unit of {united}; auto (default) guesses µV or V from the signal and "
        "says so",
    )  # fmt: skip


def board_request(args: argparse.Namespace) -> Any:
    """The source request the board flags describe (a BoardRequest, or an LslRequest)."""
    from neurofb.stream.assemble import BoardRequest, LslRequest

    board = args.board.strip().lower()
    connection = {k: getattr(args, k) for k in CONNECTION_FLAGS
                  if getattr(args, k, None) is not None}  # fmt: skip
    if board == "lsl":
        unused = [k for k in connection if k != "timeout"]
        if unused:
            raise NeurofbError(f"{_flag(unused[0])} is for BrainFlow boards; an LSL stream is "
                               f"found by --stream/--type: leave {_flag(unused[0])} out")
        stype = getattr(args, "type", None)
        name = getattr(args, "stream", None)
        return LslRequest(name=name, stype=stype or (None if name else "EEG"),
                          montage=getattr(args, "montage", None),
                          unit=getattr(args, "unit", "auto"),
                          timeout_s=getattr(args, "timeout", None) or 5.0)  # fmt: skip
    lsl_only = [k for k in ("stream", "type", "montage") if getattr(args, k, None) is not None]
    if getattr(args, "unit", "auto") != "auto":
        lsl_only.append("unit")
    if lsl_only:
        raise NeurofbError(f"{_flag(lsl_only[0])} is for LSL streams (--board lsl); the "
                           f"{args.board} board names its own channels and units: leave "
                           f"{_flag(lsl_only[0])} out")
    if board in ("synthetic", "-1") and connection:
        raise NeurofbError(f"the synthetic board takes no connection settings: leave "
                           f"{_flag(next(iter(connection)))} out")
    return BoardRequest(args.board, connection)


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the focus target and the pipeline flags (window, hop, mains, gate)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--target", default=None, metavar="SPEC",
        help="what focus means: model (the attention model, default), engagement, tbr, smr, "
        "alpha, band:beta/theta@Fz,Cz, …",
    )  # fmt: skip
    group.add_argument("--model", default=None, metavar="DIR",
                       help="focus model folder (default: the shipped model)")
    parser.add_argument(
        "--baseline", type=non_negative_float, default=None, metavar="S",
        help="the focus model's baseline mode: the first S seconds (e.g. 60) are rest, and "
        "every later window is re-centred on them (scored cold meanwhile); default 0: cold "
        "mode. Sit still with eyes open for those seconds",
    )  # fmt: skip
    parser.add_argument("--window", type=positive_float, default=None, metavar="S",
                        help="analysis window in seconds (default 2)")
    parser.add_argument("--hop", type=positive_float, default=None, metavar="S",
                        help="seconds between updates (default 0.25)")
    parser.add_argument("--l-freq", type=non_negative_float, default=None, metavar="HZ",
                        help="high-pass edge in Hz (default 1)")
    parser.add_argument("--h-freq", type=positive_float, default=None, metavar="HZ",
                        help="low-pass edge in Hz, below half the sampling rate (default 45, "
                             "lowered to 0.45 × the sampling rate for slower sources)")
    parser.add_argument("--line-freq", choices=("auto", "50", "60", "0"), default=None,
                        help="mains frequency to notch in Hz: auto (the default: detected from "
                        "the first seconds of signal, 50 when it shows no mains peak), 50, 60, "
                        "or 0 for no notch")
    parser.add_argument(
        "--min-quality", type=float, default=None, metavar="Q",
        help="gate windows whose signal quality (0-1) is below this (default 0.5; 0 never gates)",
    )  # fmt: skip


def engine_config(args: argparse.Namespace) -> Any:
    """The :class:`~neurofb.config.EngineConfig` the engine flags set.

    Raises
    ------
    NeurofbError
        When the settings do not fit together (a hop longer than the window, …).
    """
    from neurofb.config import EngineConfig

    config = EngineConfig()
    baseline = getattr(args, "baseline", None)
    if baseline and (getattr(args, "target", None) or "model").strip().lower() != "model":
        raise NeurofbError("--baseline is the focus model's baseline mode; band-power targets "
                           "always normalise to their own first 10 s")
    try:
        config = config.with_(window_s=args.window, hop_s=args.hop, min_quality=args.min_quality,
                              l_freq=args.l_freq, h_freq=args.h_freq, model_baseline_s=baseline,
                              gate_simulated=args.min_quality is not None or None)
        if args.line_freq is not None:
            line_freq = "auto" if args.line_freq == "auto" else float(args.line_freq) or None
            config = dataclasses.replace(config, line_freq=line_freq)
    except ValueError as err:
        text = str(err)
        for field, flag in _FIELD_FLAGS.items():  # the user's words, not the config's fields
            text = re.sub(rf"\b{field}\b", flag, text)
        raise NeurofbError(f"bad engine settings: {text}") from None
    return config


#: EngineConfig fields and the flags that set them.
_FIELD_FLAGS = {"window_s": "--window", "hop_s": "--hop", "min_quality": "--min-quality",
                "l_freq": "--l-freq", "h_freq": "--h-freq", "model_baseline_s": "--baseline"}


#: The fewest ensemble members training from scratch can have: with one, the member's
#: held-out subjects would be every subject, leaving it nothing to train on.
MIN_MEMBERS = 2


def members_count(text: str) -> int:
    """argparse type of ``train --members``: a whole number >= :data:`MIN_MEMBERS`.

    Checked when the flag is read, before any data is loaded.

    Raises
    ------
    argparse.ArgumentTypeError
        Not a whole number, or fewer than :data:`MIN_MEMBERS`, saying why.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text}") from None
    if value < MIN_MEMBERS:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_MEMBERS}, got {text}: each member is early-stopped on "
            "held-out subjects and trains on the others, so one member alone would train on "
            "nothing")
    return value


def add_training_options(p: argparse.ArgumentParser, *, title: str = "recipe") -> None:
    """The recipe flags (shared by ``train`` and ``evaluate --cv``); defaults = the shipped
    recipe (:class:`neurofb.training.train.Recipe`)."""
    g = p.add_argument_group(f"{title} (defaults: the shipped recipe)")
    g.add_argument("--epochs", type=positive_int, default=40,
                   help="most epochs per training stage (default 40)")
    g.add_argument("--patience", type=positive_int, default=8,
                   help="stop a stage after this many epochs without a better validation AUC "
                        "(default 8)")
    g.add_argument("--members", type=members_count, default=None,
                   help="ensemble members, each early-stopped on its own held-out subjects "
                        f"(default 5; at least {MIN_MEMBERS}: each trains on the subjects the "
                        "others are early-stopped on)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--d-model", type=positive_int, default=32, help="token width (default 32)")
    g.add_argument("--layers", type=int, default=1, help="self-attention layers (default 1)")
    g.add_argument("--heads", type=positive_int, default=4, help="attention heads (default 4)")
    g.add_argument("--dropout", type=float, default=0.1, help="dropout (default 0.1)")
    g.add_argument("--lr", type=float, default=1e-3,
                   help="AdamW learning rate of the whole network (default 1e-3)")
    g.add_argument("--lr-linear", type=float, default=1e-2,
                   help="Adam learning rate of the linear branch's stage (default 1e-2)")
    g.add_argument("--weight-decay", type=float, default=1e-2,
                   help="AdamW weight decay (default 0.01)")
    g.add_argument("--batch-size", type=positive_int, default=256,
                   help="windows per step (default 256)")
    g.add_argument("--device", type=torch_device, default=None,
                   help="torch device: cpu, cuda, cuda:N or mps (default: cuda if available)")
    g.add_argument("--threads", type=positive_int, default=1,
                   help="CPU threads for torch (default 1: the model is small)")
    g.add_argument("--cache", default=None,
                   help="folder for eegmat windows' features (default: <data dir>/cache)")


def train_config(args: argparse.Namespace) -> Any:
    """A :class:`~neurofb.training.train.Recipe` from the recipe flags.

    Raises
    ------
    NeurofbError
        When a recipe value is out of range.
    """
    from neurofb.training.train import Recipe

    try:
        return Recipe(
            d_model=args.d_model, n_heads=args.heads, n_layers=args.layers,
            dropout=args.dropout, lr=args.lr, lr_linear=args.lr_linear,
            weight_decay=args.weight_decay, batch_size=args.batch_size,
            max_epochs=args.epochs, patience=args.patience,
            n_members=Recipe.n_members if args.members is None else args.members,
            seed=args.seed)
    except ValueError as err:
        raise NeurofbError(str(err)) from None


def cache_dir(args: argparse.Namespace) -> str:
    """The eegmat window cache folder (``--cache``, else ``<data dir>/cache``)."""
    from neurofb import paths

    return args.cache or str(paths.data_dir() / "cache")


def _osc_address(text: str) -> tuple[str, int]:
    from neurofb.outputs.osc import parse_address

    try:
        return parse_address(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--lsl-out``, ``--osc-out``, ``--markers-in`` and the LSL configuration flags."""
    g = parser.add_argument_group("outputs and markers (docs/outputs.md)")
    g.add_argument("--lsl-out", nargs="?", const="neurofb", default=None, metavar="NAME",
                   help="publish focus and markers as LSL streams NAME-Focus and NAME-Markers "
                   "(default name neurofb)")  # fmt: skip
    g.add_argument("--lsl-out-eeg", action="store_true",
                   help="with --lsl-out, also publish the filtered EEG as NAME-EEG")
    g.add_argument("--osc-out", action="append", type=_osc_address, default=[],
                   metavar="HOST:PORT",
                   help="send focus, quality, band powers and rewards as OSC over UDP (neurofb's "
                   "and OpenBCI GUI's addresses); may be given more than once")  # fmt: skip
    g.add_argument("--osc-format", choices=("both", "neurofb", "openbci"), default=None,
                   help="with --osc-out, which OSC address set to send (default both)")
    g.add_argument("--markers-in", default=None, metavar="lsl:NAME|udp:PORT",
                   help="take markers from an LSL marker stream, or from UDP datagrams sent to "
                   "127.0.0.1:PORT; they are recorded on the stream's clock")  # fmt: skip
    g.add_argument("--lsl-local", action="store_true",
                   help="keep LSL on this computer (loopback only): use neurofb's machine-only "
                   "liblsl configuration (not with --lsl-config)")  # fmt: skip
    g.add_argument("--lsl-config", default=None, metavar="FILE",
                   help="liblsl configuration file to use (lsl_api.cfg; sets LSLAPICFG; not "
                   "with --lsl-local)")  # fmt: skip


def output_requests(args: argparse.Namespace) -> dict[str, Any]:
    """``lsl_out``, ``osc_out`` and ``markers_in`` of a StreamRequest, from the output flags.

    Also points liblsl at the configuration the flags name (before any LSL call).

    Raises
    ------
    NeurofbError
        A bad markers-in spec, or an LSL configuration that does not exist or comes too late.
    """
    from neurofb.outputs.lsl_out import LslOutRequest
    from neurofb.outputs.osc import OscRequest
    from neurofb.stream.markers_in import MarkersInRequest

    configure_lsl(args)
    if args.osc_format is not None and not args.osc_out:
        raise NeurofbError("--osc-format needs --osc-out HOST:PORT")
    chosen = args.osc_format or "both"
    formats = (("neurofb", "openbci") if chosen == "both" else (chosen,))
    try:
        markers = None if args.markers_in is None else MarkersInRequest(args.markers_in)
        lsl_out = None
        if args.lsl_out is not None:
            lsl_out = LslOutRequest(args.lsl_out, eeg=args.lsl_out_eeg)
        elif args.lsl_out_eeg:
            raise ValueError("--lsl-out-eeg needs --lsl-out")
    except ValueError as err:
        raise NeurofbError(str(err)) from None
    osc = tuple(OscRequest(host, port, formats) for host, port in args.osc_out)
    return {"lsl_out": lsl_out, "osc_out": osc, "markers_in": markers}


def configure_lsl(args: argparse.Namespace) -> None:
    """Apply ``--lsl-local`` / ``--lsl-config`` (no-op without them)."""
    from neurofb import lsl, paths

    if getattr(args, "lsl_local", False) and getattr(args, "lsl_config", None):
        raise NeurofbError("give --lsl-local or --lsl-config, not both")
    if getattr(args, "lsl_local", False):
        path = lsl.write_config(paths.config_dir() / "lsl_api-machine-only.cfg")
        lsl.use_config(path)
    elif getattr(args, "lsl_config", None):
        lsl.use_config(args.lsl_config)
