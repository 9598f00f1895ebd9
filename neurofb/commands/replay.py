"""``neurofb replay``: run a recording through the live pipeline, at real time or flat out.

::

    neurofb replay recordings/demo-eegmat --speed max --trace demo.csv
    neurofb replay session/ --speed 1 --loop --seconds 600          # the demo mode
    neurofb replay Subject00_2.edf --target tbr --hop 1 --trace out.csv

Works on neurofb recording folders and on EDF/EDF+/BDF, FIF, BrainFlow CSV, XDF, OpenBCI GUI
and Mind Monitor / muselsl files (``neurofb replay session.xdf --stream obci_eeg1``). For the same
input and model the trace is identical (``latency_ms`` aside) at every speed and run to run.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from neurofb.commands.options import (
    add_engine_arguments,
    add_file_arguments,
    add_output_arguments,
    engine_config,
    non_negative_float,
    output_requests,
)
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
        description="Replay a recording (neurofb folder, EDF/EDF+/BDF, FIF, BrainFlow CSV, XDF, "
        "OpenBCI GUI .txt, Mind Monitor or muselsl CSV) "
        "through the same pipeline as a live stream and write its focus trace. The trace is "
        "the same at every speed.",
    )
    p.add_argument("path", metavar="PATH", help="recording folder or file")
    p.add_argument(
        "--speed", type=_speed, default=None, metavar="1|N|max",
        help="1 for real time, N for N× real time, max (default) for as fast as possible",
    )
    add_engine_arguments(p)
    p.add_argument("--loop", action="store_true", help="start again at the end (needs --seconds)")
    p.add_argument("--seek", type=non_negative_float, default=0.0, metavar="S", help="start S s in")
    p.add_argument(
        "--seconds", type=non_negative_float, default=None, metavar="S",
        help="stop after S seconds of recording",
    )
    p.add_argument("--trace", default=None, metavar="CSV", help="write the focus trace here")
    add_file_arguments(p)
    add_output_arguments(p)
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
    from neurofb.commands.stream import output_lines
    from neurofb.library.recovery import recover_interrupted
    from neurofb.stream.assemble import ReplayRequest, StreamRequest, open_stream

    out = out if out is not None else sys.stdout
    if args.loop and not args.seconds:
        raise NeurofbError("--loop needs --seconds S to know when to stop")
    config = engine_config(args)
    recover_interrupted()
    from neurofb.recording.formats import open_recording

    outputs = output_requests(args)
    opened = open_recording(args.path, stream=args.stream, montage=args.montage, unit=args.unit)
    for note in opened.warnings:
        sys.stderr.write(f"warning: {note}\n")
    source = ReplayRequest(opened, speed=args.speed, loop=args.loop, seek_s=args.seek,
                           seconds=args.seconds or None)  # fmt: skip
    request = StreamRequest(source, target=args.target, model_dir=args.model, config=config,
                            trace_path=args.trace, **outputs)  # fmt: skip
    try:
        stream = open_stream(request)
    except ValueError as err:  # a seek past the end
        raise NeurofbError(str(err)) from None
    recording = stream.source.recording
    updates: list = []
    stream.runner.add_update_listener(updates.append)
    if args.speed is not None:
        stream.runner.add_update_listener(_Printer(out))
    started = time.perf_counter()
    interrupted = False
    try:
        if args.speed is None:
            stream.run()
        else:
            stream.start()
            while not stream.runner.join(timeout=0.1):
                pass
    except KeyboardInterrupt:
        interrupted = True
    finally:
        closed = stream.close()
    wall = time.perf_counter() - started
    focus = [u.focus for u in updates if u.focus is not None]
    streamed = updates[-1].t if updates else 0.0
    speed = "max" if args.speed is None else f"{args.speed:g}x"
    lines = [
        f"replayed {recording.path or args.path} ({recording.duration_s:.1f} s, "
        f"{len(recording.ch_names)} channels at {recording.sfreq:g} Hz) at speed {speed} with "
        f"target {stream.target}: {len(updates)} updates ({len(updates) - len(focus)} gated) "
        f"in {wall:.2f} s ({streamed / wall if wall > 0 else 0:.0f}× real time)"
        + (" — interrupted" if interrupted else ""),
        f"mean focus {sum(focus) / len(focus):.3f}" if focus else "mean focus --",
    ]
    if stream.pipeline.mains_note:
        lines.append(stream.pipeline.mains_note)
    lines.extend(output_lines(stream))
    if stream.trace is not None:
        lines.append(f"trace: {stream.trace.path} ({closed.trace_rows} rows)")
    out.write("\n".join(lines) + "\n")
    out.flush()
    return 0
