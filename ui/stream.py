"""The live connection: open a source, bind the estimator, run the engine on its own thread.

Opening a board (which may wait for a device) and loading a model happen on a worker thread
(:class:`neurofb_ui.qt_bridge.Task`); the engine's :class:`~neurofb.runner.StreamRunner` then
streams on its own thread, and its callbacks reach the views as queued signals of
:attr:`LiveStream.bridge`. This module only wires engine objects together; it computes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from neurofb import paths
from neurofb.errors import BoardError, ChannelError, ModelError
from neurofb_ui.qt_bridge import EngineBridge, Task, start_task, wait_for_tasks
from neurofb_ui.source_panel import SourceSpec

log = logging.getLogger(__name__)

#: open_board keyword arguments that take numbers.
_INT_FIELDS = ("ip_port",)
_FLOAT_FIELDS = ("timeout",)


@dataclass(frozen=True)
class StreamRequest:
    """Everything needed to open a stream (a frozen request handed to the worker)."""

    spec: SourceSpec
    target: str = "model"
    model_dir: str = ""
    loop_replay: bool = True


@dataclass(frozen=True)
class OpenedStream:
    """What the worker hands back: a started runner and what it streams."""

    runner: Any
    source: Any
    info: Any
    estimator_name: str
    model_dir: str
    warning: str = ""


def board_kwargs(fields: dict) -> dict:
    """Turn the picker's text fields into :func:`neurofb.sources.open_board` keyword arguments.

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


def make_source(spec: SourceSpec) -> Any:
    """Build (not start) the source a :class:`SourceSpec` names."""
    if spec.kind == "synthetic":
        from neurofb.sources import open_board

        return open_board("synthetic")
    if spec.kind == "board":
        from neurofb.sources import open_board

        try:
            return open_board(spec.board, **board_kwargs(spec.fields))
        except ValueError as err:
            raise BoardError(f"{spec.board}: {err}") from None
    if spec.kind in ("demo", "file"):
        if not spec.file:
            what = "the demo recording is not installed" if spec.kind == "demo" else (
                "no recording file chosen")
            raise BoardError(f"{what}: choose a file or the synthetic board")
        if not Path(spec.file).exists():
            raise BoardError(f"recording {spec.file} not found: choose another file")
        from neurofb.replay import ReplaySource

        source = ReplaySource(spec.file, speed=1.0, loop=True)
        if spec.start_s > 0:
            source.seek(min(spec.start_s, source.recording.duration_s))
        return source
    raise BoardError(f"unknown source kind {spec.kind!r}")


def resolve_model_dir(model_dir: str) -> str:
    """The model folder to use: the chosen one, else the shipped default."""
    return model_dir or str(paths.default_model_dir())


def make_estimator(target: str, model_dir: str) -> tuple[Any, str, str]:
    """Build the feedback estimator; fall back to the engagement index if the model fails.

    Returns
    -------
    estimator, name, warning
        ``warning`` is empty unless the fallback was used (it says why).
    """
    from neurofb.focus.targets import make_estimator as engine_make

    try:
        if target != "model":
            return engine_make(target), target, ""
        return engine_make("model", model_dir=model_dir), "model", ""
    except (ModelError, ChannelError, OSError, ValueError) as err:
        what = "focus model" if target == "model" else f"feedback target {target!r}"
        warning = f"{what} could not load ({err}); using the engagement index instead"
        log.warning(warning)
        return engine_make("engagement"), "engagement", warning


def open_stream(request: StreamRequest, bridge: EngineBridge,
                started: Callable[[Any], bool] | None = None) -> OpenedStream:
    """Open and start a stream (runs on a worker thread; may block on a device).

    ``started(runner)`` is called once the runner runs; when it returns False (the window is
    closing) the runner is stopped again and :class:`BoardError` raised.

    Raises
    ------
    BoardError
        When the source cannot be opened or started.
    """
    from neurofb.config import EngineConfig
    from neurofb.pipeline import Pipeline
    from neurofb.runner import StreamRunner

    source = make_source(request.spec)
    model_dir = resolve_model_dir(request.model_dir)
    estimator, name, warning = make_estimator(request.target, model_dir)
    try:
        pipeline = Pipeline(source.info, estimator, EngineConfig())
    except (ChannelError, ModelError) as err:
        if name == "engagement":
            raise
        warning = f"{err}; using the engagement index instead"
        estimator, name, _ = make_estimator("engagement", model_dir)
        pipeline = Pipeline(source.info, estimator, EngineConfig())
    runner = StreamRunner(source, pipeline)
    bridge.attach(runner)
    runner.start(wait=True)
    if started is not None and not started(runner):
        runner.stop()
        raise BoardError("the window closed while connecting")
    return OpenedStream(runner, source, source.info, name, model_dir, warning)


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
    problem(str, str)
        Something to show in the banner (the stream may go on), and its level (``error``,
        ``warning``, ``info``); an empty message clears the banner.
    """

    state = pyqtSignal(str, str)
    opened = pyqtSignal(object)
    closed = pyqtSignal()
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
        self._started: list[Any] = []  # runners started by workers, not yet adopted or stopped

    @property
    def runner(self) -> Any:
        """The running :class:`~neurofb.runner.StreamRunner`, or None."""
        return None if self.current is None else self.current.runner

    def connect_source(self, request: StreamRequest) -> Task | None:
        """Open ``request`` on a worker thread; ``state`` reports how it went."""
        if self.current is not None or self.current_state == "connecting":
            return None
        if self._closing:
            return None
        self._set_state("connecting", request.spec.label)
        self._task = start_task(Task(open_stream, request, self.bridge, self._register,
                                     on_done=self._on_opened, on_error=self._on_failed))
        return self._task

    def _register(self, runner: Any) -> bool:
        """Called on the worker thread once a runner runs: keep track of it for shutdown."""
        with self._lock:
            if self._closing:
                return False
            self._started.append(runner)
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
        for runner in left:
            runner.stop(timeout=5.0)

    def disconnect_source(self, *, wait: bool = False) -> None:
        """Stop the stream (on a worker thread unless ``wait``)."""
        cur = self.current
        if cur is None:
            return
        self.current = None
        self.bridge.detach()
        self._set_state("disconnecting", "")
        if wait:
            cur.runner.stop(timeout=5.0)
            self._stopped()
        else:
            start_task(Task(cur.runner.stop, 5.0, on_done=lambda _r: self._stopped(),
                            on_error=lambda msg: self._stopped(msg)))

    def _stopped(self, message: str = "") -> None:
        self._set_state("disconnected", message)
        self.closed.emit()

    def _on_opened(self, opened: OpenedStream) -> None:
        with self._lock:
            if opened.runner in self._started:
                self._started.remove(opened.runner)
            closing = self._closing
        if closing:
            opened.runner.stop(timeout=5.0)
            return
        self.current = opened
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
        elif kind == "error":
            self.problem.emit(msg, "error")
        elif kind == "stopped" and self.current is not None:
            self.current = None
            self._stopped(msg)

    def _set_state(self, state: str, message: str) -> None:
        self.current_state = state
        self.state.emit(state, message)

