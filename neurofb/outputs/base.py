"""What every output shares: the listener interface it attaches to, and a sending thread.

An output is a consumer of the stream, like the recorder: it attaches to a
:class:`~neurofb.stream.runner.StreamRunner` as a listener (:class:`SupportsListeners`) and
turns updates, markers and chunks into messages for other programs. Listener callbacks run on
the runner's thread and must not wait on a network, so an output only *queues* a message there;
a :class:`Sender` thread of its own sends it. The queue is bounded: when the receiver cannot keep
up, the oldest messages are dropped (and counted) — the stream never waits for an output.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

from neurofb.errors import NeurofbError
from neurofb.types import Chunk, Marker, Update

__all__ = ["PRACTICE_KINDS", "MarkerFilter", "OutputError", "Sender", "SupportsListeners",
           "SupportsSteps"]

log = logging.getLogger(__name__)


#: Marker kinds a practice session makes: while a session is followed they are taken from it
#: (:meth:`neurofb.practice.session.PracticeSession.add_marker_listener`), not from the runner,
#: which may carry them too.
PRACTICE_KINDS = frozenset({"block_start", "block_end", "reward", "threshold", "baseline",
                            "pause", "resume"})



class MarkerFilter:
    """Which of a stream's markers an output sends: a followed session's own kinds come from
    the session (not again from the runner), and ``session_start``/``session_end`` once each.
    """

    def __init__(self) -> None:
        self.following = False
        self.started = False  # a session_start went out
        self.ended = False  # a session_end went out

    def passes(self, marker: Any) -> bool:
        """Whether to send ``marker`` (the bounds are counted as sent when they pass)."""
        if self.following and marker.kind in PRACTICE_KINDS:
            return False
        if marker.kind == "session_start":
            if self.started:
                return False
            self.started = True
        if marker.kind == "session_end":
            if self.ended:
                return False
            self.ended = True
        return True

class OutputError(NeurofbError):
    """An output cannot be opened (bad host or port, a name in use) or stopped sending."""


class SupportsListeners(Protocol):
    """What an output needs of a runner (:class:`neurofb.stream.runner.StreamRunner` has it)."""

    def add_chunk_listener(self, callback: Callable[[Chunk], object]) -> None: ...

    def add_update_listener(self, callback: Callable[[Update], object]) -> None: ...

    def add_marker_listener(self, callback: Callable[[Marker], object]) -> None: ...

    def remove_listener(self, callback: Callable[[Any], object]) -> None: ...


class SupportsSteps(Protocol):
    """What an output needs of a practice session (``neurofb.practice.session.PracticeSession``).

    Its steps carry the reward logic's decision for each update (``step.update``,
    ``step.feedback.on_target``) and the session's markers (``step.markers``).
    """

    def add_step_listener(self, callback: Callable[[Any], object]) -> None: ...


class PartlySent(Exception):
    """A batch of messages of which ``failed`` could not be sent (``error`` the last reason)."""

    def __init__(self, failed: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.failed, self.error = failed, error


def _size(message: Any) -> int:
    """Messages in a queued item: a list is a batch (one update's OSC datagrams)."""
    return len(message) if isinstance(message, list) else 1


class Sender:
    """A daemon thread that sends queued messages, never blocking the thread that queues them.

    ``sent``, ``dropped`` and ``errors`` count messages: an item queued as a list is a batch of
    ``len`` messages, and ``send`` raises :class:`PartlySent` when only some of it failed.

    Parameters
    ----------
    name : str
        Thread name (for logs and debuggers).
    send : callable
        Called with each message on the sender thread; an exception is logged and counted,
        and sending goes on.
    maxsize : int
        Messages held at most; beyond that the oldest is dropped.
    """

    def __init__(self, name: str, send: Callable[[Any], None], *, maxsize: int = 4096) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self._send = send
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self.sent = 0
        self.dropped = 0
        self.errors = 0
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, message: Any) -> None:
        """Queue a message (any thread; returns at once, dropping the oldest when full)."""
        if self._closed.is_set():
            return
        with self._lock:
            while True:
                try:
                    self._queue.put_nowait(message)
                    return
                except queue.Full:
                    try:
                        self.dropped += _size(self._queue.get_nowait())
                    except queue.Empty:
                        pass

    def _run(self) -> None:
        while True:
            try:
                message = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._closed.is_set():
                    return
                continue
            if message is _STOP:
                return
            n = _size(message)
            try:
                self._send(message)
                self.sent += n
            except Exception as err:  # a receiver gone, a refused datagram: keep going
                failed = err.failed if isinstance(err, PartlySent) else n
                self.sent += n - failed
                self.errors += failed
                err = err.error if isinstance(err, PartlySent) else err
                text = f"{type(err).__name__}: {err}"
                if text != self.last_error:
                    log.warning("%s could not send: %s", self._thread.name, text)
                self.last_error = text

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (up to ``timeout`` seconds), then stop the thread; idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)


_STOP = object()
