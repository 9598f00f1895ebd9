"""The live connection: the engine's stream, opened on a worker thread, watched by the views.

The app names what to stream with a :class:`~neurofb_ui.source_panel.SourceSpec`;
:func:`stream_request` turns it and the settings into the engine's frozen
:class:`~neurofb.stream.assemble.StreamRequest`, and :func:`neurofb.stream.assemble.open_stream`
(the one assembly path, shared with the CLI) builds the stream on a worker thread
(:class:`neurofb_ui.qt_bridge.Task`), since opening a board may wait for a device. The engine's
runner then streams on its own thread and its callbacks reach the views as queued signals of
:attr:`LiveStream.bridge`. This module only adapts; it computes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from neurofb.config import EngineConfig
from neurofb.errors import BoardError
from neurofb.outputs import LslOutRequest, OscRequest, parse_address
from neurofb.stream.assemble import (
    BoardRequest,
    LslRequest,
    OpenedStream,
    ReplayRequest,
    StreamRequest,
    open_stream,
)
from neurofb_ui.qt_bridge import EngineBridge, Task, start_task, wait_for_tasks
from neurofb_ui.source_panel import SourceSpec

__all__ = ["ConnectRequest", "LiveStream", "stream_request"]

log = logging.getLogger(__name__)

#: Connection fields that take numbers.
_INT_FIELDS = ("ip_port",)
_FLOAT_FIELDS = ("timeout",)

#: What the app feeds back when the model cannot serve the stream (shown in the banner).
FALLBACK_TARGET = "engagement"


@dataclass(frozen=True)
class ConnectRequest:
    """What the window asks to connect to: the source and the feedback settings.

    Parameters
    ----------
    spec : SourceSpec
        The source picked.
    target : str
        Feedback target (``model``, ``engagement``, …).
    model_dir : str
        Model folder; empty for the shipped default.
    line_freq : int or "auto"
        Mains frequency to notch (``"auto"``, 50, 60; 0 for none).
    loop_replay : bool
        Loop a replayed recording (the demo plays on and on).
    lsl_out : str
        Publish over LSL under this name ("" for no LSL output).
    osc_out : str
        ``host:port`` to send OSC to ("" for none).
    """

    spec: SourceSpec
    target: str = "model"
    model_dir: str = ""
    line_freq: int | str = "auto"
    loop_replay: bool = True
    lsl_out: str = ""
    osc_out: str = ""


def _connection(fields: dict) -> dict[str, Any]:
    """The picker's text fields as :func:`neurofb.stream.brainflow.open_board` arguments.

    Raises
    ------
    BoardError
        When a numeric field (``ip_port``, ``timeout``) is not a number.
    """
    out: dict[str, Any] = {}
    for key, value in fields.items():
        text = str(value).strip()
        if not text:
            continue
        try:
            if key in _INT_FIELDS:
                out[key] = int(text)
            elif key in _FLOAT_FIELDS:
                out[key] = float(text)
            else:
                out[key] = text
        except ValueError:
            raise BoardError(f"{key.replace('_', ' ')} must be a number, got {text!r}") from None
    return out


def stream_request(request: ConnectRequest) -> StreamRequest:
    """The engine's request for what the window asks.

    Raises
    ------
    BoardError
        When the source cannot be named (no file chosen, a field that is not a number).
    """
    spec = request.spec
    if spec.kind == "synthetic":
        source: BoardRequest | ReplayRequest = BoardRequest("synthetic")
    elif spec.kind == "board":
        source = BoardRequest(spec.board, _connection(spec.fields))
    elif spec.kind in ("demo", "file"):
        if not spec.file:
            what = "the demo recording is not installed" if spec.kind == "demo" else (
                "no recording file chosen")
            raise BoardError(f"{what}: choose a file or the synthetic board")
        source = ReplayRequest(spec.file, speed=1.0, loop=request.loop_replay,
                               seek_s=spec.start_s)  # fmt: skip
    elif spec.kind == "lsl":
        name = spec.fields.get("stream") or None
        source = LslRequest(name=name, stype=None if name else "EEG",
                            montage=spec.fields.get("montage") or None,
                            unit=spec.fields.get("unit") or "auto")  # fmt: skip
    else:
        raise BoardError(f"unknown source kind {spec.kind!r}")
    line_freq = request.line_freq
    config = EngineConfig(line_freq="auto" if line_freq == "auto" else float(line_freq) or None)
    target = request.target or "model"
    osc: tuple[OscRequest, ...] = ()
    if request.osc_out:
        try:
            osc = (OscRequest(*parse_address(request.osc_out)),)
        except ValueError as err:
            raise BoardError(f"OSC out: {err}") from None
    return StreamRequest(
        source, target=None if target == "model" else target,
        model_dir=request.model_dir or None, config=config, fallback=FALLBACK_TARGET,
        lsl_out=LslOutRequest(request.lsl_out) if request.lsl_out else None, osc_out=osc,
    )  # fmt: skip


def _open(request: ConnectRequest, bridge: EngineBridge,
          started: Callable[[Any], bool] | None = None,
          opening: Future | None = None) -> OpenedStream:
    """Open and start a stream (runs on a worker thread; may block on a device).

    ``opening`` is the same request already being opened (:func:`open_early`); its stream is
    used instead of opening another. ``started(runner)`` is called once the runner runs; when it
    returns False (the window is closing) the stream is closed again and :class:`BoardError`
    raised.
    """
    stream = opening.result() if opening is not None else open_stream(stream_request(request))
    bridge.attach(stream.runner)
    try:
        stream.start(wait=True)
    except BaseException:
        stream.close()
        raise
    if started is not None and not started(stream):
        stream.close()
        raise BoardError("the window closed while connecting")
    return stream


def connect_request(spec: SourceSpec, settings: Any) -> ConnectRequest:
    """What connecting to ``spec`` asks of the engine, with the app's ``settings``."""
    return ConnectRequest(spec=spec, target=settings.target, model_dir=settings.model_dir,
                          line_freq=settings.line_freq,
                          lsl_out=settings.lsl_out_name if settings.lsl_out else "",
                          osc_out=settings.osc_out)


def open_early(request: ConnectRequest) -> Future:
    """Start opening ``request``'s stream on a thread of its own, now.

    The app calls this before it builds its window: a board or a paced replay starts streaming
    (:func:`neurofb.stream.assemble.open_stream` starts it first) and the model loads while the
    window is built, so the first focus value comes about one window after start-up rather than
    one window after the window is drawn. Hand the future to :meth:`LiveStream.connect_source`.
    """
    future: Future = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(open_stream(stream_request(request)))
        except BaseException as err:  # delivered to the connecting task
            future.set_exception(err)

    threading.Thread(target=run, name="neurofb-open", daemon=True).start()
    return future


class LiveStream(QObject):
    """Owns the current stream. Views listen to :attr:`bridge` and to the signals here.

    Signals
    -------
    state(str, str)
        ``connecting``, ``connected``, ``stalled``, ``reconnecting``, ``ended``,
        ``disconnecting``, ``disconnected`` or ``error``, with a message.
    opened(OpenedStream)
        A stream started (on the GUI thread, before its first chunk is drawn).
    closed()
        The stream stopped.
    source_stopped(str)
        The stream stopped by itself (the source ended or failed for good, not a disconnect
        asked for), with the runner's last message; sent before the stream is closed, so a
        session on it can still end cleanly.
    problem(str, str)
        Something to show in the banner (the stream may go on), and its level (``error``,
        ``warning``, ``info``); an empty message clears the banner.
    """

    state = pyqtSignal(str, str)
    opened = pyqtSignal(object)
    closed = pyqtSignal()
    source_stopped = pyqtSignal(str)
    problem = pyqtSignal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = EngineBridge(self)
        self.bridge.status.connect(self._on_status)
        self.current: OpenedStream | None = None
        self.current_state = "disconnected"
        self._task: Task | None = None
        self._lock = threading.Lock()
        self._closing = False
        self._started: list[OpenedStream] = []  # started by workers, not yet adopted
        self._why_stopped = ""  # the last "ended" or "error" message of the current stream

    @property
    def runner(self) -> Any:
        """The running :class:`~neurofb.stream.runner.StreamRunner`, or None."""
        return None if self.current is None else self.current.runner

    def connect_source(self, request: ConnectRequest, *, opening: Future | None = None
                       ) -> Task | None:
        """Open ``request`` on a worker thread; ``state`` reports how it went.

        ``opening``: the stream of this very request, already being opened (:func:`open_early`).
        """
        if self.current is not None or self.current_state == "connecting":
            return None
        if self._closing:
            return None
        self._set_state("connecting", request.spec.label)
        self._task = start_task(Task(_open, request, self.bridge, self._register, opening,
                                     on_done=self._on_opened, on_error=self._on_failed))
        return self._task

    def _register(self, stream: OpenedStream) -> bool:
        """Called on the worker thread once a stream runs: keep track of it for shutdown."""
        with self._lock:
            if self._closing:
                return False
            self._started.append(stream)
            return True

    def shutdown(self) -> None:
        """Stop for good (the window closes): the stream, and any stream still connecting."""
        with self._lock:
            self._closing = True
        self.bridge.detach(close=True)
        self.disconnect_source(wait=True)
        wait_for_tasks(15.0)
        with self._lock:
            left, self._started = self._started, []
        for stream in left:
            stream.close()

    def disconnect_source(self, *, wait: bool = False) -> None:
        """Stop the stream (on a worker thread unless ``wait``)."""
        cur = self.current
        if cur is None:
            return
        self.current = None
        self.bridge.detach()
        self._set_state("disconnecting", "")
        if wait:
            cur.close()
            self._stopped()
        else:
            start_task(Task(cur.close, on_done=lambda _r: self._stopped(),
                            on_error=lambda msg: self._stopped(msg)))

    def _stopped(self, message: str = "") -> None:
        self._set_state("disconnected", message)
        self.closed.emit()

    def _on_opened(self, opened: OpenedStream) -> None:
        with self._lock:
            if opened in self._started:
                self._started.remove(opened)
            closing = self._closing
        if closing:
            opened.close()
            return
        self.current = opened
        self._why_stopped = ""
        self._set_state("connected", f"{opened.info.board} · feedback: {opened.estimator_name}")
        self.opened.emit(opened)
        if opened.warning:
            self.problem.emit(opened.warning, "warning")

    def _on_failed(self, message: str) -> None:
        self.bridge.detach()
        self._set_state("error", message)
        self.problem.emit(f"Could not connect: {message}", "error")

    def _on_status(self, event: Any) -> None:
        kind, msg = event.kind, event.message
        if self.current is None:
            return
        if kind in ("stalled", "reconnecting"):
            self._set_state(kind, msg)
            self.problem.emit(f"The board stopped delivering data ({msg}); reconnecting…",
                              "warning")
        elif kind == "resumed":
            self._set_state("connected", msg)
            self.problem.emit("", "info")
        elif kind == "ended":
            self._set_state("ended", msg)
            self._why_stopped = msg
        elif kind == "error":
            self.problem.emit(msg, "error")
            self._why_stopped = msg
        elif kind == "stopped" and self.current is not None:
            # sessions on it end first (their recordings close), told why it stopped
            why, self._why_stopped = self._why_stopped, ""
            self.source_stopped.emit(why or msg)
            if self.current is None:  # a listener disconnected it already
                return
            cur, self.current = self.current, None
            start_task(Task(cur.close))  # the source ended: close trace and pipeline too
            self._stopped(msg)

    def _set_state(self, state: str, message: str) -> None:
        self.current_state = state
        self.state.emit(state, message)

