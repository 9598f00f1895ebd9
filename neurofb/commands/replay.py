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

from neurofb.commands.interrupts import open_watching_interrupts, stop_on_signals
from neurofb.commands.options import (
    add_engine_arguments,
    add_file_arguments,
    add_output_arguments,
    default_fallback,
    engine_config,
    non_negative_float,
    output_requests,
)
from neurofb.commands.tally import Tally
from neurofb.errors import NeurofbError

#: ``--speed max`` as parsed (told apart from no ``--speed`` at all, whose default depends on
#: the outputs); the replay itself takes None for it.
MAX = "max"


def _speed(text: str) -> float | str:
    from neurofb.stream.replay import MAX_SPEED, MIN_SPEED

    if text.strip().lower() == "max":
        return MAX
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'max', got {text!r}") from None
    if not MIN_SPEED <= value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(
            f"speed must be between {MIN_SPEED:g} and {MAX_SPEED:g} (× real time), or max; "
            f"got {text}")
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
        help="1 for real time, N for N× real time (0.01 to 10000), max for as fast as "
        "possible (default: max; 1 when sending focus out with --osc-out or --lsl-out, which a "
        "game or LabRecorder reads in real time)",
    )
    add_engine_arguments(p)
    add_file_arguments(p)
    p.add_argument("--board", default=None, metavar="NAME",
                   help="the BrainFlow board that wrote a BrainFlow CSV file (default: its "
                        ".neurofb.json sidecar, else told from its columns and timestamps)")
    add_output_arguments(p)
    p.add_argument("--loop", action="store_true", help="start again at the end (needs --seconds)")
    p.add_argument("--seek", type=non_negative_float, default=0.0, metavar="S", help="start S s in")
    p.add_argument(
        "--seconds", type=non_negative_float, default=None, metavar="S",
        help="stop after S seconds of recording (default, or 0: the whole recording)",
    )
    p.add_argument("--trace", default=None, metavar="CSV",
                   help="write the focus trace here (a new file)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --trace file (never one of the inputs)")
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
    """Replay the recording; print a summary that matches the trace written; return 0."""
    from neurofb.commands.stream import summary_notes
    from neurofb.library.recovery import recover_interrupted
    from neurofb.recording.trace import trace_stats
    from neurofb.stream.assemble import ReplayRequest, StreamRequest, open_stream

    out = out if out is not None else sys.stdout
    err_out = sys.stderr
    if args.loop and not args.seconds:
        raise NeurofbError("--loop needs --seconds S (more than 0) to know when to stop")
    config = engine_config(args)
    for problem in recover_interrupted().problems:
        err_out.write(f"warning: {problem}\n")
    if args.speed is None and (args.osc_out or args.lsl_out is not None):
        args.speed = 1.0  # a game reads focus in real time: max sent 3 min in 0.7 s (mostly lost)
        err_out.write("note: sending focus out in real time (--speed 1); --speed max sends it "
                      "as fast as the pipeline runs\n")
    elif args.speed == MAX:
        args.speed = None
    source = ReplayRequest(args.path, speed=args.speed, loop=args.loop, seek_s=args.seek,
                           seconds=args.seconds or None, stream=args.stream,
                           montage=args.montage, unit=args.unit, board=args.board,
                           markers=True)  # fmt: skip
    request = StreamRequest(source, target=args.target, model_dir=args.model, config=config,
                            fallback=default_fallback(args), trace_path=args.trace,
                            overwrite=args.force, **output_requests(args))  # fmt: skip
    try:
        stream = open_watching_interrupts(open_stream, request)
    except ValueError as err:  # a seek past the end
        raise NeurofbError(str(err)) from None
    recording = stream.source.recording
    own = [*recording.warnings, *([stream.warning] if stream.warning else [])]
    warnings = [*own, *stream.notes]
    for line in own:
        err_out.write(f"warning: {line}\n")
    for line in stream.notes:
        err_out.write(f"note: {line}\n")
    err_out.flush()
    tally = Tally()
    stream.runner.add_update_listener(tally.on_update)
    if args.speed is not None:
        stream.runner.add_update_listener(_Printer(out))
    started = time.perf_counter()
    interrupted = False
    with stop_on_signals():
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
        # What the summary says is what was written: the trace file's rows when there is one.
        stats = trace_stats(stream.trace.path) if stream.trace is not None else tally.stats()
        problem = getattr(stream.source, "error", None)
        streamed = stats.last_t or 0.0
        speed = "max" if args.speed is None else f"{args.speed:g}x"
        lines = [
            f"replayed {recording.path or args.path} ({recording.duration_s:.1f} s, "
            f"{len(recording.ch_names)} channels at {recording.sfreq:g} Hz) at speed {speed} "
            f"with target {stream.target}: {stats.rows} updates ({stats.gated} gated) "
            f"in {wall:.2f} s ({streamed / wall if wall > 0 else 0:.0f}× real time)"
            + (" — interrupted" if interrupted else "")
            + (" — stopped early: see the warning below" if problem else ""),
            "mean focus --" if stats.mean_focus is None else f"mean focus {stats.mean_focus:.3f}",
        ]
        if stream.trace is not None:
            lines.append(f"trace: {stream.trace.path} ({closed.trace_rows} rows)")
        lines += summary_notes(stream, tally, stats.rows)
        lines += [f"warning: {w}" for w in [*warnings, *([problem] if problem else [])]]
        out.write("\n".join(lines) + "\n")
        out.flush()
    return 0
