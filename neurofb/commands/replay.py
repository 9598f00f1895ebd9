"""``neurofb replay``: run a recording through the live pipeline, at real time or flat out.

::

    neurofb replay recordings/demo-eegmat --speed max --trace demo.csv
    neurofb replay session/ --speed 1 --loop --seconds 600          # the demo mode
    neurofb replay Subject00_2.edf --target tbr --hop 1 --trace out.csv

Works on neurofb recording folders and on EDF/EDF+/BDF, FIF and BrainFlow CSV files. For the same
input and model the trace is identical (``latency_ms`` aside) at every speed and run to run.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from neurofb.commands.stream import engine_config, non_negative_float, positive_float
from neurofb.errors import NeurofbError


def _speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'max', got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"speed must be positive, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``replay`` subcommand."""
    p = subparsers.add_parser(
        "replay",
        help="replay a recording through the live pipeline",
        description="Replay a recording (neurofb folder, EDF/EDF+/BDF, FIF, BrainFlow CSV) "
        "through the same pipeline as a live stream and write its focus trace. The trace is "
        "the same at every speed.",
    )
    p.add_argument("path", metavar="PATH", help="recording folder or file")
    p.add_argument(
        "--speed", type=_speed, default=None, metavar="1|N|max",
        help="1 for real time, N for N× real time, max (default) for as fast as possible",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--model", default=None, metavar="DIR", help="focus model folder")
    group.add_argument(
        "--target", default=None, metavar="SPEC",
        help="what focus means: model (default when a trained model ships), engagement, tbr, "
        "smr, alpha, band:beta/theta@Fz,Cz, …",
    )
    p.add_argument(
        "--hop", type=positive_float, default=None, metavar="S", help="seconds between updates"
    )
    p.add_argument(
        "--window", type=positive_float, default=None, metavar="S", help="window in seconds"
    )
    p.add_argument(
        "--line-freq", type=int, choices=(50, 60, 0), default=None,
        help="mains frequency to notch in Hz (0: no notch; default 50)",
    )
    p.add_argument(
        "--min-quality", type=float, default=None, metavar="Q",
        help="gate windows whose signal quality (0-1) is below this (default 0.5; 0 never gates)",
    )
    p.add_argument("--loop", action="store_true", help="start again at the end (needs --seconds)")
    p.add_argument("--seek", type=non_negative_float, default=0.0, metavar="S", help="start S s in")
    p.add_argument(
        "--seconds", type=non_negative_float, default=None, metavar="S",
        help="stop after S seconds of recording",
    )
    p.add_argument("--trace", default=None, metavar="CSV", help="write the focus trace here")
    p.set_defaults(func=run)


class _Printer:
    """A live line once a second at paced speeds (called on the runner thread)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last = 0.0

    def __call__(self, update) -> None:
        now = time.monotonic()
        if now - self.last < 1.0:
            return
        self.last = now
        focus = "  -- " if update.focus is None else f"{update.focus:5.2f}"
        reason = f"  ({update.reason})" if update.reason else ""
        self.out.write(f"{update.t:7.1f} s  focus {focus}  quality {update.quality:4.2f}{reason}\n")
        self.out.flush()


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Replay the recording; print a summary; return 0."""
    from neurofb.recording import open_recording
    from neurofb.replay import default_target, replay

    out = out if out is not None else sys.stdout
    if args.loop and not args.seconds:
        raise NeurofbError("--loop needs --seconds S to know when to stop")
    config = engine_config(args)
    recording = open_recording(args.path)
    if args.seek > recording.duration_s:
        raise NeurofbError(
            f"--seek {args.seek:g} is past the end of the recording ({recording.duration_s:.1f} s)"
        )
    target = args.target or default_target(args.model)
    printer = _Printer(out) if args.speed is not None else None
    started = time.perf_counter()
    interrupted = False
    updates: list = []
    try:
        updates = replay(
            recording, speed=args.speed, model_dir=args.model, target=target, config=config,
            trace_path=args.trace, loop=args.loop, seek_s=args.seek, seconds=args.seconds,
            on_update=printer,
        )
    except KeyboardInterrupt:
        interrupted = True
    except ValueError as err:
        raise NeurofbError(str(err)) from None
    wall = time.perf_counter() - started
    focus = [u.focus for u in updates if u.focus is not None]
    streamed = updates[-1].t if updates else 0.0
    speed = "max" if args.speed is None else f"{args.speed:g}x"
    lines = [
        f"replayed {recording.path or args.path} ({recording.duration_s:.1f} s, "
        f"{len(recording.ch_names)} channels at {recording.sfreq:g} Hz) at speed {speed} with "
        f"target {target}: {len(updates)} updates ({len(updates) - len(focus)} gated) "
        f"in {wall:.2f} s ({streamed / wall if wall > 0 else 0:.0f}× real time)"
        + (" — interrupted" if interrupted else ""),
        f"mean focus {sum(focus) / len(focus):.3f}" if focus else "mean focus --",
    ]
    if args.trace:
        lines.append(f"trace: {args.trace}")
    out.write("\n".join(lines) + "\n")
    out.flush()
    return 0
