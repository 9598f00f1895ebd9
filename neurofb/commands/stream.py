"""``neurofb stream``: stream a BrainFlow board headless, with a live focus line in the terminal.

::

    neurofb stream --board synthetic --seconds 10 --trace out.csv
    neurofb stream --board playback --file session.csv --record
    neurofb stream --board cyton --serial-port /dev/ttyUSB0 --target tbr

The live line shows the stream time, focus (``--`` with the reason when the window was gated),
signal quality and samples per second; it is rewritten in place on a terminal and printed once a
second otherwise. Ctrl-C (or SIGTERM) stops cleanly: the trace and the recording are closed and
kept, a summary is printed and the exit code is 0.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import queue
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

from neurofb.errors import NeurofbError

#: Connection flags passed through to :func:`neurofb.sources.open_board`.
CONNECTION_FLAGS = {
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
    "file": "CSV",
    "master_board": "NAME",
    "serial_port": "PORT",
    "mac_address": "MAC",
    "ip_address": "IP",
    "ip_port": "PORT",
    "ip_protocol": None,
    "serial_number": "SERIAL",
    "timeout": "SECONDS",
    "other_info": "TEXT",
}


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
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


def board_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`neurofb.sources.open_board` keyword arguments given on the command line."""
    return {k: getattr(args, k) for k in CONNECTION_FLAGS if getattr(args, k, None) is not None}


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
    p.add_argument(
        "--seconds",
        type=non_negative_float,
        default=0.0,
        metavar="S",
        help="how long to stream in seconds (0, the default: until Ctrl-C)",
    )
    p.add_argument("--trace", default=None, metavar="CSV", help="write the focus trace here")
    p.add_argument(
        "--record",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="record the session into a new folder (default: <data dir>/recordings/<time>-<board>)",
    )
    p.add_argument(
        "--target",
        default=None,
        metavar="SPEC",
        help="what focus means: model (the default when a trained model ships), engagement, "
        "tbr, smr, alpha, band:beta/theta@Fz,Cz, …",
    )
    p.add_argument("--model", default=None, metavar="DIR", help="focus model folder to use")
    p.add_argument(
        "--window", type=positive_float, default=None, metavar="S",
        help="analysis window in seconds",
    )
    p.add_argument(
        "--hop", type=positive_float, default=None, metavar="S", help="seconds between updates"
    )
    p.add_argument(
        "--line-freq",
        type=int,
        choices=(50, 60, 0),
        default=None,
        help="mains frequency to notch in Hz (0: no notch; default 50)",
    )
    p.add_argument(
        "--min-quality",
        type=float,
        default=None,
        metavar="Q",
        help="gate windows whose signal quality (0-1) is below this (default 0.5; 0 never gates)",
    )
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
    p.set_defaults(func=run)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (main thread only) so it stops as cleanly as Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Tally:
    """Counts what the stream delivered; updated on the runner thread, read on the main one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = None
        self.updates = 0
        self.gated = 0
        self.focus_sum = 0.0
        self.quality_sum = 0.0
        self.events: queue.SimpleQueue = queue.SimpleQueue()

    def on_update(self, update: Any) -> None:
        with self.lock:
            self.last = update
            self.updates += 1
            self.quality_sum += update.quality
            if update.focus is None:
                self.gated += 1
            else:
                self.focus_sum += update.focus

    @property
    def mean_focus(self) -> float | None:
        n = self.updates - self.gated
        return self.focus_sum / n if n else None

    @property
    def mean_quality(self) -> float | None:
        return self.quality_sum / self.updates if self.updates else None


def _status_line(t: float, update: Any, rate: float) -> str:
    if update is None:
        return (
            f"{t:7.1f} s  focus {'--':>5}  quality {'--':>4}  {rate:4.0f} samples/s  (warming up)"
        )
    focus = f"{'--':>5}" if update.focus is None else f"{update.focus:5.2f}"
    reason = f"  ({update.reason})" if update.reason else ""
    return (
        f"{t:7.1f} s  focus {focus}  quality {update.quality:4.2f}  {rate:4.0f} samples/s{reason}"
    )


def _default_target(model_dir: str | None) -> str:
    from neurofb import paths

    folder = model_dir if model_dir is not None else paths.default_model_dir()
    return "model" if os.path.isfile(os.path.join(folder, "model.json")) else "engagement"


def engine_config(args: argparse.Namespace) -> Any:
    """Return the EngineConfig set by the shared engine flags (--window, --hop, ...)."""
    from neurofb.config import EngineConfig

    config = EngineConfig()
    try:
        config = config.with_(window_s=args.window, hop_s=args.hop, min_quality=args.min_quality)
        if args.line_freq is not None:
            config = dataclasses.replace(config, line_freq=float(args.line_freq) or None)
    except ValueError as err:
        raise NeurofbError(f"bad engine settings: {err}") from None
    return config


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Stream until ``--seconds`` pass, the source ends, or Ctrl-C; return 0."""
    from neurofb.focus.targets import make_estimator
    from neurofb.pipeline import Pipeline
    from neurofb.runner import StatusEvent, StreamRunner
    from neurofb.sources import open_board
    from neurofb.trace import TraceWriter

    out = out if out is not None else sys.stdout
    err_out = sys.stderr
    if args.data_dir:
        os.environ["NEUROFB_HOME"] = os.path.abspath(args.data_dir)
    config = engine_config(args)
    try:
        source = open_board(args.board, **board_kwargs(args))
    except ValueError as err:
        raise NeurofbError(f"bad connection setting: {err}") from None
    spec = args.target or _default_target(args.model)
    estimator = make_estimator(spec, model_dir=args.model, baseline_s=config.baseline_s)
    pipeline = Pipeline(source.info, estimator, config)
    runner = StreamRunner(source, pipeline, stall_s=args.stall)
    tally = _Tally()
    runner.add_update_listener(tally.on_update)
    runner.add_status_listener(tally.events.put)

    trace = TraceWriter(args.trace) if args.trace else None
    if trace is not None:
        runner.add_update_listener(trace.write)
    recorder = None
    if args.record is not None:
        from neurofb.recording import RecordingWriter, new_recording_path

        path = args.record or new_recording_path(label=source.info.board)
        meta = {
            "exercise": "stream",
            "model": getattr(estimator, "name", spec),
            "target": spec,
            "config": dataclasses.asdict(config),
            "command": "neurofb stream",
        }
        recorder = RecordingWriter(
            path,
            source.info,
            meta=meta,
            on_error=lambda message: tally.events.put(StatusEvent("error", message, runner.t)),
        )
        runner.add_chunk_listener(recorder.write_chunk)
        runner.add_update_listener(recorder.write_update)
        runner.add_marker_listener(recorder.write_marker)

    tty = out.isatty()
    interrupted = False
    started = time.monotonic()
    try:
        with _sigterm_as_interrupt():
            try:
                runner.mark("session_start", source.info.board)
                try:
                    runner.start()
                except NeurofbError:
                    _discard_empty(recorder)
                    raise
                started = time.monotonic()
                _watch(runner, tally, seconds=args.seconds, out=out, err_out=err_out, tty=tty)
            except KeyboardInterrupt:
                interrupted = True
            finally:
                runner.stop()
                runner.mark("session_end", "interrupted" if interrupted else "")
    finally:
        if tty:
            out.write("\n")
        _drain_events(tally, err_out)
        if trace is not None:
            trace.close()
        if recorder is not None:
            recorder.close(
                summary={
                    "duration_s": runner.t,
                    "mean_focus": tally.mean_focus,
                    "quality": tally.mean_quality,
                    "board": source.info.board,
                    "exercise": "stream",
                    "model": getattr(estimator, "name", spec),
                }
            )
    _summary(runner, tally, source, trace, recorder, time.monotonic() - started, out)
    return 0


def _discard_empty(recorder: Any) -> None:
    """Remove the folder of a recording that never got a sample (the board did not start)."""
    if recorder is None:
        return
    recorder.close()
    if recorder.n_samples == 0:
        shutil.rmtree(recorder.path, ignore_errors=True)


def _drain_events(tally: _Tally, err_out: TextIO) -> None:
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
    runner: Any, tally: _Tally, *, seconds: float, out: TextIO, err_out: TextIO, tty: bool
) -> None:
    """Print the live line until time is up or the runner ends."""
    start = time.monotonic()
    every = 0.25 if tty else 1.0
    last_print = start
    last_samples, last_t = runner.samples, start
    rate = 0.0
    while runner.running:
        now = time.monotonic()
        if seconds and now - start >= seconds:
            return
        if now - last_print >= every:
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
        time.sleep(0.05)


def _summary(
    runner: Any,
    tally: _Tally,
    source: Any,
    trace: Any,
    recorder: Any,
    wall_s: float,
    out: TextIO,
) -> None:
    mean = tally.mean_focus
    quality = tally.mean_quality
    lines = [
        f"streamed {runner.t:.1f} s from {source.info.board} in {wall_s:.1f} s: "
        f"{runner.samples} samples, {tally.updates} updates ({tally.gated} gated)",
        f"mean focus {'--' if mean is None else f'{mean:.3f}'}, mean quality "
        f"{'--' if quality is None else f'{quality:.3f}'}, {runner.reconnects} reconnect attempts",
    ]
    if trace is not None:
        lines.append(f"trace: {trace.path} ({trace.rows} rows)")
    if recorder is not None:
        lines.append(f"recording: {recorder.path}")
        if recorder.error:
            lines.append(f"warning: {recorder.error}")
    out.write("\n".join(lines) + "\n")
    out.flush()
