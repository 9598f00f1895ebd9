"""``neurofb stream``: stream a BrainFlow board headless, with a live focus line in the terminal.

::

    neurofb stream --board synthetic --seconds 10 --trace out.csv
    neurofb stream --board playback --file session.csv --record
    neurofb stream --board cyton --serial-port /dev/ttyUSB0 --target tbr
    neurofb stream --board lsl --stream obci_eeg1 --montage cyton --lsl-out --osc-out 9000

The live line shows the stream time, focus (``--`` with the reason when the window was gated),
signal quality and samples per second; it is rewritten in place on a terminal and printed once a
second otherwise. Ctrl-C (or SIGTERM) stops cleanly: the trace and the recording are closed and
kept, a summary is printed and the exit code is 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import queue
import shutil
import sys
import time
from typing import Any, TextIO

from neurofb.commands.interrupts import open_watching_interrupts, stop_on_signals
from neurofb.commands.options import (
    add_board_arguments,
    add_engine_arguments,
    add_file_arguments,
    add_output_arguments,
    board_request,
    default_fallback,
    engine_config,
    non_negative_float,
    output_requests,
    positive_float,
)
from neurofb.commands.tally import Tally


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``stream`` subcommand."""
    p = subparsers.add_parser(
        "stream",
        help="stream a board headless with a live focus line",
        description="Stream EEG from a BrainFlow board through the engine and show focus, "
        "signal quality and samples/s live. Ctrl-C stops cleanly and keeps the trace and the "
        "recording.",
    )
    add_board_arguments(p)
    add_file_arguments(p, lsl=True)
    p.add_argument(
        "--seconds",
        type=non_negative_float,
        default=0.0,
        metavar="S",
        help="how long to stream in seconds (0, the default: until Ctrl-C)",
    )
    p.add_argument("--trace", default=None, metavar="CSV",
                   help="write the focus trace here (a new file)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --trace file (never one of the inputs)")
    p.add_argument(
        "--record",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="record the session into a new folder (default: <data dir>/recordings/<time>-<board>;"
        " a PATH must not exist, the folder above it must); it is added to the session library "
        "when the stream ends",
    )
    p.add_argument("--user", default=None, metavar="NAME",
                   help="who is training, stored in the --record recording (what `neurofb "
                        "sessions --user` and the app's history filter on)")
    add_engine_arguments(p)
    p.add_argument(
        "--stall",
        type=positive_float,
        default=2.0,
        metavar="S",
        help="seconds without samples before reconnecting (default 2)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="user data folder (recordings, personal models); default $NEUROFB_HOME or the "
        "platform's user data dir",
    )
    add_output_arguments(p)
    p.set_defaults(func=run)


def _status_line(t: float, update: Any, rate: float) -> str:
    if update is None:
        return (
            f"{t:7.1f} s  focus {'--':>5}  quality {'--':>4}  {rate:4.0f} samples/s  (warming up)"
        )
    focus = f"{'--':>5}" if update.focus is None else f"{update.focus:5.2f}"
    reason = f"  ({update.reason})" if update.reason else ""
    mode = {"rest": "  [resting: taking the baseline]",
            "baseline-failed": "  [cold: baseline not taken]"}.get(getattr(update, "mode", ""), "")
    return (
        f"{t:7.1f} s  focus {focus}  quality {update.quality:4.2f}  {rate:4.0f} samples/s"
        f"{reason}{mode}"
    )


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Stream until ``--seconds`` pass, the source ends, or Ctrl-C; return 0."""
    from neurofb import paths
    from neurofb.library.recovery import recover_interrupted
    from neurofb.stream.assemble import RecordRequest, StreamRequest, open_stream

    out = out if out is not None else sys.stdout
    err_out = sys.stderr
    if args.data_dir:
        os.environ["NEUROFB_HOME"] = str(paths.data_dir(args.data_dir).absolute())
    config = engine_config(args)
    for problem in recover_interrupted().problems:
        err_out.write(f"warning: {problem}\n")
    record = None
    if args.user is not None and args.record is None:
        from neurofb.errors import NeurofbError

        raise NeurofbError("--user names the person of a recording: give --record too")
    if args.record is not None:
        record = RecordRequest(
            path=None if args.record is True else args.record,
            meta={"exercise": "stream", "config": dataclasses.asdict(config),
                  "command": "neurofb stream", "user": args.user},
        )  # fmt: skip
    outputs = output_requests(args)
    request = StreamRequest(
        board_request(args), target=args.target, model_dir=args.model, config=config, **outputs,
        # the default model may not fit every board (too few 10-20 electrodes): say so and
        # feed back engagement; a model, target or baseline the user named is never replaced
        fallback=default_fallback(args),
        record=record, trace_path=args.trace, stall_s=args.stall, overwrite=args.force,
    )  # fmt: skip
    opened_at = time.monotonic()
    # starts the board, then loads the model while it streams
    stream = open_watching_interrupts(open_stream, request)
    if stream.warning:
        err_out.write(f"warning: {stream.warning}\n")
    for note in stream.notes:
        err_out.write(f"note: {note}\n")
    tally = Tally()
    stream.runner.add_update_listener(tally.on_update)
    stream.runner.add_status_listener(tally.events.put)
    runner = stream.runner
    tty = out.isatty()
    interrupted = False
    started = time.monotonic()
    with stop_on_signals():
        try:
            try:
                runner.mark("session_start", stream.info.board)
                stream.start()
                # --seconds counts from when the board started streaming
                started = opened_at if stream.source_started else time.monotonic()
                _watch(runner, tally, seconds=args.seconds, out=out, err_out=err_out, tty=tty,
                       start=started)
            except KeyboardInterrupt:
                interrupted = True
            finally:
                runner.stop()
                runner.mark("session_end", "interrupted" if interrupted else "")
        finally:
            if tty:
                out.write("\n")
            closed = stream.close()
            _drain_events(tally, err_out)
        _summary(stream, tally, closed, time.monotonic() - started, out)
    return 0


def _drain_events(tally: Tally, err_out: TextIO) -> None:
    while True:
        try:
            event = tally.events.get_nowait()
        except queue.Empty:
            return
        if event.kind in ("started", "stopped"):
            continue
        err_out.write(f"[{event.kind}] {event.message}\n")
        err_out.flush()


def _watch(
    runner: Any, tally: Tally, *, seconds: float, out: TextIO, err_out: TextIO, tty: bool,
    start: float | None = None,
) -> None:
    """Print the live line until ``seconds`` after ``start`` (default now) or the runner ends."""
    start = time.monotonic() if start is None else start
    every = 0.25 if tty else 1.0
    last_print = start
    last_samples, last_t = runner.samples, start
    rate = 0.0
    shown_first = False
    while runner.running:
        now = time.monotonic()
        if seconds and now - start >= seconds:
            return
        first = not shown_first and tally.first_focus.is_set()
        if now - last_print >= every or first:
            shown_first = shown_first or first
            if now - last_t >= 0.5:
                rate = (runner.samples - last_samples) / (now - last_t)
                last_samples, last_t = runner.samples, now
            if tty:
                out.write("\r\x1b[K")
            _drain_events(tally, err_out)
            with tally.lock:
                update = tally.last
            line = _status_line(runner.t, update, rate)
            if tty:  # one terminal row, or \r cannot overwrite it
                width = shutil.get_terminal_size().columns - 1
                line = line if len(line) <= width else line[: max(width - 1, 0)] + "…"
            out.write(f"\r{line}\x1b[K" if tty else line + "\n")
            out.flush()
            last_print = now
        if shown_first:
            time.sleep(0.05)
        else:  # wake at once when the first focus value arrives
            tally.first_focus.wait(0.05)


def _summary(stream: Any, tally: Tally, closed: Any, wall_s: float, out: TextIO) -> None:
    from neurofb.recording.trace import trace_stats

    runner = stream.runner
    # What the summary says is what was written: the trace file's rows when there is one.
    stats = trace_stats(stream.trace.path) if stream.trace is not None else tally.stats()
    mean, quality = stats.mean_focus, stats.mean_quality
    lines = [
        f"streamed {runner.t:.1f} s from {stream.info.board} in {wall_s:.1f} s with target "
        f"{stream.target}: {runner.samples} samples, {stats.rows} updates "
        f"({stats.gated} gated)",
        f"mean focus {'--' if mean is None else f'{mean:.3f}'}, mean quality "
        f"{'--' if quality is None else f'{quality:.3f}'}, {runner.reconnects} reconnect attempts",
    ]
    lines += summary_notes(stream, tally, stats.rows)
    if stream.trace is not None:
        lines.append(f"trace: {stream.trace.path} ({closed.trace_rows} rows)")
    if closed.recording is not None:
        rec = closed.recording
        where = "" if rec.library_id is None else f" (session {rec.library_id} in the library)"
        lines.append(f"recording: {rec.path}{where}")
        if rec.problem:
            lines.append(f"warning: {rec.problem}")
    out.write("\n".join(lines) + "\n")
    out.flush()


def summary_notes(stream: Any, tally: Tally, rows: int) -> list[str]:
    """The summary lines ``stream`` and ``replay`` share: why there were no updates, the mains
    frequency, the outputs and markers-in, the focus model's baseline mode."""
    lines = []
    if rows == 0 and (reason := stream.why_no_updates()):
        lines.append(reason)
    if stream.pipeline.mains_note:
        lines.append(stream.pipeline.mains_note)
    lines += output_lines(stream)
    if mode := tally.mode_line(stream.pipeline.config.model_baseline_s,
                               stream.pipeline.baseline_min_windows):
        lines.append(mode)
    return lines


def _host_port(host: str, port: int) -> str:
    """``host:port``, an IPv6 address in brackets (``[::1]:9000``), as it is given."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def output_lines(stream: Any) -> list[str]:
    """One summary line per output (what was sent, dropped, failed) and for markers-in."""
    lines = []
    for output in stream.outputs:
        sender = output.sender
        what = (f"LSL out {output.request.name}-Focus/-Markers"
                + ("/-EEG" if output.request.eeg else "")
                if hasattr(output.request, "eeg") else
                f"OSC out {_host_port(*output.address[:2])}")  # fmt: skip
        line = f"{what}: {sender.sent} messages sent"
        if sender.dropped:
            line += f", {sender.dropped} dropped (the receiver did not keep up)"
        if sender.errors:
            line += f", {sender.errors} failed ({sender.last_error})"
        lines.append(line)
    if stream.markers_in is not None:
        lines.append(f"markers in ({stream.markers_in.request.spec}): "
                     f"{stream.markers_in.received} received")  # fmt: skip
    return lines
