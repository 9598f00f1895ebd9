"""Options shared by several ``neurofb`` subcommands, defined once.

- :func:`add_board_arguments` / :func:`board_request`: ``--board`` and BrainFlow's connection
  flags (``stream``).
- :func:`add_engine_arguments` / :func:`engine_config`: the pipeline's window, hop, mains and
  gate, and the focus target (``stream``, ``replay``).
- :func:`add_training_options` / :func:`train_config`: the focus model's training recipe
  (``train``, ``evaluate``).
- :func:`positive_float`, :func:`non_negative_float`: argparse types for seconds.

Nothing heavy is imported here: ``neurofb --help`` builds every parser.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

from neurofb.errors import NeurofbError

__all__ = [
    "CONNECTION_FLAGS",
    "add_board_arguments",
    "add_engine_arguments",
    "add_training_options",
    "board_request",
    "cache_dir",
    "engine_config",
    "non_negative_float",
    "positive_float",
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


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def add_board_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--board`` and the BrainFlow connection flags to ``parser``."""
    parser.add_argument(
        "--board",
        default="synthetic",
        metavar="NAME",
        help="BrainFlow board: synthetic (default), playback, cyton, ganglion, muse_s, … "
        "(`neurofb boards` lists them all)",
    )
    for dest, text in CONNECTION_FLAGS.items():
        kwargs: dict[str, Any] = {"default": None, "help": text, "metavar": _METAVARS.get(dest)}
        if dest == "ip_port":
            kwargs["type"] = int
        elif dest == "timeout":
            kwargs["type"] = positive_float
        elif dest == "ip_protocol":
            kwargs["choices"] = ("udp", "tcp", "none")
        parser.add_argument(f"--{dest.replace('_', '-')}", dest=dest, **kwargs)


def board_request(args: argparse.Namespace) -> Any:
    """The :class:`neurofb.stream.assemble.BoardRequest` the board flags describe."""
    from neurofb.stream.assemble import BoardRequest

    connection = {k: getattr(args, k) for k in CONNECTION_FLAGS
                  if getattr(args, k, None) is not None}  # fmt: skip
    return BoardRequest(args.board, connection)


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
    parser.add_argument("--window", type=positive_float, default=None, metavar="S",
                        help="analysis window in seconds (default 2)")
    parser.add_argument("--hop", type=positive_float, default=None, metavar="S",
                        help="seconds between updates (default 0.25)")
    parser.add_argument("--l-freq", type=non_negative_float, default=None, metavar="HZ",
                        help="high-pass edge in Hz (default 1)")
    parser.add_argument("--h-freq", type=positive_float, default=None, metavar="HZ",
                        help="low-pass edge in Hz, below half the sampling rate (default 45, "
                             "lowered to 0.45 × the sampling rate for slower sources)")
    parser.add_argument("--line-freq", type=int, choices=(50, 60, 0), default=None,
                        help="mains frequency to notch in Hz (0: no notch; default 50)")
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
    try:
        config = config.with_(window_s=args.window, hop_s=args.hop, min_quality=args.min_quality,
                              l_freq=args.l_freq, h_freq=args.h_freq)
        if args.line_freq is not None:
            config = dataclasses.replace(config, line_freq=float(args.line_freq) or None)
    except ValueError as err:
        raise NeurofbError(f"bad engine settings: {err}") from None
    return config


def add_training_options(p: argparse.ArgumentParser) -> None:
    """The recipe flags (shared by ``train`` and ``evaluate --cv``)."""
    g = p.add_argument_group("recipe")
    g.add_argument("--epochs", type=int, default=60, help="most epochs (default 60)")
    g.add_argument("--patience", type=int, default=10,
                   help="stop after this many epochs without a better validation AUC")
    g.add_argument("--val-subjects", type=int, default=4,
                   help="subjects (or recordings) held out for early stopping (default 4)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--d-model", type=int, default=32, help="token width (default 32)")
    g.add_argument("--layers", type=int, default=2, help="self-attention layers (default 2)")
    g.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    g.add_argument("--dropout", type=float, default=0.1, help="dropout (default 0.1)")
    g.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    g.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW weight decay")
    g.add_argument("--batch-size", type=int, default=128, help="windows per step (default 128)")
    g.add_argument("--adversarial", choices=["fgsm", "pgd"], default=None,
                   help="add adversarial examples to every batch")
    g.add_argument("--adv-eps", type=float, default=0.05,
                   help="attack budget relative to each channel's std (default 0.05)")
    g.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    g.add_argument("--threads", type=int, default=1,
                   help="CPU threads for torch (default 1: the model is small)")
    g.add_argument("--cache", default=None,
                   help="folder for preprocessed eegmat windows (default: <data dir>/cache)")


def train_config(args: argparse.Namespace) -> Any:
    """A :class:`~neurofb.training.train.TrainConfig` from the recipe flags.

    Raises
    ------
    NeurofbError
        When a recipe value is out of range.
    """
    from neurofb.training.train import TrainConfig

    try:
        return TrainConfig(
            d_model=args.d_model, n_heads=args.heads, n_layers=args.layers,
            dropout=args.dropout, lr=args.lr, weight_decay=args.weight_decay,
            batch_size=args.batch_size, max_epochs=args.epochs, patience=args.patience,
            val_subjects=args.val_subjects, seed=args.seed, adversarial=args.adversarial,
            adv_eps=args.adv_eps)
    except ValueError as err:
        raise NeurofbError(str(err)) from None


def cache_dir(args: argparse.Namespace) -> str:
    """The eegmat window cache folder (``--cache``, else ``<data dir>/cache``)."""
    from neurofb import paths

    return args.cache or str(paths.data_dir() / "cache")
