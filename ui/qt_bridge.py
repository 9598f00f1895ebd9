"""The one place where engine callbacks become Qt signals.

The engine calls its listeners on the runner thread (or a training thread). Widgets may only be
touched on the GUI thread, so every callback here does nothing but ``emit`` a signal of a
:class:`QObject` that lives on the GUI thread; Qt delivers it through the event loop (a queued
connection) to the slots of the views. Background work that is not a stream (loading a model,
retraining, reindexing the library, replaying a past session) runs in :class:`Task` workers on
the global :class:`QThreadPool` and reports back the same way.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QThreadPool, pyqtSignal

from neurofb.errors import NeurofbError

log = logging.getLogger(__name__)


class EngineBridge(QObject):
    """Re-emit a :class:`neurofb.stream.runner.StreamRunner`'s callbacks as queued Qt signals.

    Signals carry the engine's frozen records unchanged: ``update`` an
    :class:`neurofb.types.Update`, ``chunk`` a :class:`neurofb.types.Chunk`, ``marker`` a
    :class:`neurofb.types.Marker`, ``status`` a :class:`neurofb.stream.runner.StatusEvent`.

    Create the bridge on the GUI thread; :meth:`attach` it to a runner before the runner starts.
    Callbacks that arrive after :meth:`detach` are dropped, so a stopping runner never reaches a
    view that has moved on.
    """

    update = pyqtSignal(object)
    chunk = pyqtSignal(object)
    marker = pyqtSignal(object)
    status = pyqtSignal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._closed = False
        self._lock = threading.Lock()

    def attach(self, runner: Any) -> None:
        """Subscribe to ``runner``'s update, chunk, marker and status callbacks."""
        with self._lock:
            self._generation += 1
            gen = self._generation
        runner.add_update_listener(self._relay(self.update, gen))
        runner.add_chunk_listener(self._relay(self.chunk, gen))
        runner.add_marker_listener(self._relay(self.marker, gen))
        runner.add_status_listener(self._relay(self.status, gen))

    def detach(self, *, close: bool = False) -> None:
        """Drop every callback of the runners attached so far; ``close`` drops all later ones."""
        with self._lock:
            self._generation += 1
            self._closed = self._closed or close

    def _relay(self, signal: Any, gen: int) -> Callable[[object], None]:
        def emit(record: object) -> None:
            # Runs on the runner thread: no widget work, only a queued emit.
            if gen == self._generation and not self._closed:
                signal.emit(record)

        return emit


class _TaskSignals(QObject):
    done = pyqtSignal(object)
    failed = pyqtSignal(str)
    progress = pyqtSignal(float, str)


class Task:
    """A function run on the global thread pool, reporting back through queued signals.

    The pool runs the bound method :meth:`run` (a callable, not a ``QRunnable`` subclass), so
    Qt owns and frees its own wrapper and never touches a Python object after it is gone.

    Parameters
    ----------
    fn : callable
        Called as ``fn(*args, progress=..., cancel=...)`` when ``with_progress`` is true, else
        ``fn(*args)``. ``progress(fraction, message)`` may be called from the worker thread;
        ``cancel`` is a :class:`threading.Event` set by :meth:`cancel`.
    on_done : callable, optional
        Slot called on the GUI thread with the return value.
    on_error : callable, optional
        Slot called on the GUI thread with a message (a :class:`NeurofbError`'s text, or the
        exception type and text for anything unexpected, whose traceback is logged).
    on_progress : callable, optional
        Slot called on the GUI thread with ``(fraction in [0, 1], message)``.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        with_progress: bool = False,
    ) -> None:
        self._fn = fn
        self._args = args
        self._with_progress = with_progress
        self.cancel_event = threading.Event()
        self.signals = _TaskSignals()
        self.finished = threading.Event()
        if on_done is not None:
            self.signals.done.connect(on_done)
        if on_error is not None:
            self.signals.failed.connect(on_error)
        if on_progress is not None:
            self.signals.progress.connect(on_progress)

    def cancel(self) -> None:
        """Ask the task to stop at its next check of ``cancel``."""
        self.cancel_event.set()

    def run(self) -> None:  # runs on a pool thread
        """Run the function and emit ``done`` or ``failed``."""
        try:
            if self._with_progress:
                result = self._fn(
                    *self._args,
                    progress=lambda f, msg="": self.signals.progress.emit(float(f), str(msg)),
                    cancel=self.cancel_event,
                )
            else:
                result = self._fn(*self._args)
        except NeurofbError as err:
            self.signals.failed.emit(str(err))
        except Exception as err:  # shown in the window, and logged with its traceback
            log.error("background task %s failed:\n%s", self._fn, traceback.format_exc())
            self.signals.failed.emit(f"{type(err).__name__}: {err}")
        else:
            self.signals.done.emit(result)
        finally:
            self.finished.set()


_running: set[Task] = set()


def start_task(task: Task) -> Task:
    """Start ``task`` on the global thread pool and keep it alive until it finishes."""
    _running.add(task)
    task.signals.done.connect(lambda _r: _running.discard(task))
    task.signals.failed.connect(lambda _m: _running.discard(task))
    QThreadPool.globalInstance().start(task.run)
    return task


def wait_for_tasks(timeout_s: float = 10.0) -> bool:
    """Block until every running task finished (used when the window closes)."""
    return QThreadPool.globalInstance().waitForDone(int(timeout_s * 1000))
