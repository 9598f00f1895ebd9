"""The stream runner: a thread that reads a source, runs the pipeline and feeds listeners.

::

    runner = StreamRunner(source, pipeline)
    runner.add_update_listener(print)
    runner.start()          # BoardError here when the device is missing or busy
    ...
    runner.mark("block_start", "rest")
    runner.stop()

Every source call (``start``/``read``/``restart``/``stop``) and every pipeline call happens on
the runner's own thread, so a BrainFlow session is only ever touched from one thread. Listener
callbacks run on that thread too: they must be quick and must not touch Qt widgets. Markers made
with :meth:`StreamRunner.mark` from any thread are queued and delivered on the runner thread.

When the board stops delivering (unplugged, out of range), the runner reports ``stalled`` after
``stall_s`` without samples, then ``reconnecting`` while it restarts the source with exponential
backoff, and ``resumed`` when samples flow again; ``disconnect`` and ``reconnect`` markers go to
the marker listeners so a recording keeps them. Nothing a board or a listener does kills the
runner thread or the process.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from neurofb.errors import BoardError, EndOfStream
from neurofb.stream.source import Source
from neurofb.types import Chunk, Marker, Update

log = logging.getLogger(__name__)

StatusKind = Literal["started", "stalled", "reconnecting", "resumed", "ended", "stopped", "error"]

#: Seconds during which an identical error message is reported only once.
ERROR_REPEAT_S = 5.0


@dataclass(frozen=True)
class StatusEvent:
    """A change in the state of the stream.

    Parameters
    ----------
    kind : str
        ``"started"``, ``"stalled"`` (no samples for ``stall_s``), ``"reconnecting"`` (a restart
        attempt), ``"resumed"`` (samples flow again), ``"ended"`` (a finite source is exhausted),
        ``"stopped"`` (the runner thread finished: always the last event) or ``"error"`` (a
        listener or the pipeline raised; the stream goes on).
    message : str
        Human-readable details.
    t : float
        Stream clock in seconds (samples streamed / sfreq) when it happened.
    """

    kind: StatusKind
    message: str = ""
    t: float = 0.0


def backoff_s(attempt: int, *, initial_s: float, max_s: float) -> float:
    """Seconds to wait after reconnect attempt ``attempt`` (1-based): doubling, capped.

    ``initial_s, 2 * initial_s, 4 * initial_s, …`` up to ``max_s``.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    return min(initial_s * 2.0 ** min(attempt - 1, 60), max_s)


class SupportsProcess(Protocol):
    """What the runner needs of a pipeline (:class:`neurofb.stream.pipeline.Pipeline`)."""

    def process(self, chunk: Chunk) -> list[Update]:
        """Consume a chunk and return the updates it completed."""
        ...


_KINDS = ("update", "chunk", "marker", "status")


class StreamRunner:
    """Run a source through a pipeline on a daemon thread and fan the results out.

    Parameters
    ----------
    source : Source
        Where the samples come from (a BrainFlow board, a replay).
    pipeline : object with ``process(chunk) -> list[Update]``
        Usually :class:`neurofb.stream.pipeline.Pipeline`.
    stall_s : float
        Seconds without samples after which the stream counts as stalled and a reconnect starts.
    retry_initial_s, retry_max_s : float
        First and longest wait between reconnect attempts in seconds (doubling in between).
    poll_s : float
        Seconds to wait before reading again when the source had no samples.
    """

    def __init__(
        self,
        source: Source,
        pipeline: SupportsProcess,
        *,
        stall_s: float = 2.0,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 8.0,
        poll_s: float = 0.02,
    ) -> None:
        for name, value in (
            ("stall_s", stall_s),
            ("retry_initial_s", retry_initial_s),
            ("poll_s", poll_s),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive seconds, got {value}")
        if retry_max_s < retry_initial_s:
            raise ValueError(
                f"retry_max_s ({retry_max_s}) must be >= retry_initial_s ({retry_initial_s})"
            )
        if not callable(getattr(pipeline, "process", None)):
            raise ValueError("pipeline must have a process(chunk) -> list[Update] method")
        self.source = source
        self.pipeline = pipeline
        self.stall_s = float(stall_s)
        self.retry_initial_s = float(retry_initial_s)
        self.retry_max_s = float(retry_max_s)
        self.poll_s = float(poll_s)
        self._sfreq = float(source.info.sfreq)
        self._listeners: dict[str, tuple[Callable[[Any], object], ...]] = {k: () for k in _KINDS}
        self._listeners_lock = threading.Lock()
        self._callback_lock = threading.RLock()  # serialises callbacks across threads
        self._marker_lock = threading.Lock()
        self._marker_queue: queue.SimpleQueue[Marker] = queue.SimpleQueue()
        self._accepting_markers = False
        self._stop_event = threading.Event()
        self._ready = threading.Event()
        self._done = threading.Event()
        self._start_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._last_error: dict[str, float] = {}
        self.samples = 0
        self.updates = 0
        self.reconnects = 0
        self.errors = 0

    # -- listeners -------------------------------------------------------------------------
    def _add(self, kind: str, callback: Callable[[Any], object]) -> None:
        if not callable(callback):
            raise ValueError(f"{kind} listener must be callable, got {callback!r}")
        with self._listeners_lock:
            self._listeners[kind] = (*self._listeners[kind], callback)

    def _remove(self, kind: str, callback: Callable[[Any], object]) -> None:
        with self._listeners_lock:
            self._listeners[kind] = tuple(cb for cb in self._listeners[kind] if cb != callback)

    def add_update_listener(self, callback: Callable[[Update], object]) -> None:
        """Call ``callback(update)`` for every pipeline :class:`~neurofb.types.Update`."""
        self._add("update", callback)

    def add_chunk_listener(self, callback: Callable[[Chunk], object]) -> None:
        """Call ``callback(chunk)`` for every chunk read from the source (before the pipeline)."""
        self._add("chunk", callback)

    def add_marker_listener(self, callback: Callable[[Marker], object]) -> None:
        """Call ``callback(marker)`` for every marker (from :meth:`mark` and disconnects)."""
        self._add("marker", callback)

    def add_status_listener(self, callback: Callable[[StatusEvent], object]) -> None:
        """Call ``callback(event)`` for every :class:`StatusEvent`."""
        self._add("status", callback)

    def remove_listener(self, callback: Callable[[Any], object]) -> None:
        """Remove ``callback`` from every listener list it is in."""
        for kind in _KINDS:
            self._remove(kind, callback)

    # -- public state ----------------------------------------------------------------------
    @property
    def t(self) -> float:
        """Seconds streamed so far: samples received / sampling rate."""
        return self.samples / self._sfreq

    @property
    def running(self) -> bool:
        """Whether the runner has started and not yet finished."""
        return self._thread is not None and not self._done.is_set()

    # -- control ---------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        """Whether :meth:`start` or :meth:`run` was called (a runner runs once)."""
        return self._thread is not None

    def start(self, *, wait: bool = True) -> None:
        """Start the runner thread, which starts the source.

        Parameters
        ----------
        wait : bool
            Wait until the source has started and raise its error here if it could not. With
            ``wait=False`` a failure to start arrives as an ``"error"`` then ``"stopped"``
            status event instead.

        Raises
        ------
        BoardError
            (with ``wait=True``) when the source could not start: device missing or busy.
        RuntimeError
            When the runner was already started (a runner runs once; make a new one).
        """
        if self._thread is not None:
            raise RuntimeError("this StreamRunner was already started; make a new one")
        self._thread = threading.Thread(target=self._run, name="neurofb-stream", daemon=True)
        self._thread.start()
        if wait:
            self._ready.wait()
            if self._start_error is not None:
                self._thread.join()
                raise self._start_error

    def run(self) -> None:
        """Stream on the calling thread until the source ends or :meth:`stop` is called.

        The same loop as the runner thread's (:meth:`start`), for a finite source run flat out
        (a replay at ``--speed max``) where a second thread would only add hand-offs.

        Raises
        ------
        BoardError
            When the source could not start.
        KeyboardInterrupt
            Ctrl-C, after the source was stopped and the ``stopped`` event sent.
        RuntimeError
            When the runner was already started.
        """
        if self._thread is not None:
            raise RuntimeError("this StreamRunner was already started; make a new one")
        self._thread = threading.current_thread()
        self._run()
        if self._start_error is not None:
            raise self._start_error

    def report_error(self, message: str) -> None:
        """Send an ``"error"`` status event (from any thread), e.g. a recording that stopped."""
        self._status("error", message)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop streaming and release the source; idempotent.

        Waits up to ``timeout`` seconds for the thread to finish (not when called from a
        listener on the runner thread itself, which cannot wait for itself).
        """
        self._stop_event.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        if not self._done.wait(timeout):
            log.warning("stream thread did not stop within %.1f s", timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the runner thread to finish (a finite source ended, or stopped).

        Returns True when the thread has finished.
        """
        if self._thread is None:
            return True
        return self._done.wait(timeout)

    def mark(
        self, kind: str, label: str = "", value: float | None = None, *, t: float | None = None
    ) -> Marker:
        """Make a marker timestamped with the stream clock and send it to marker listeners.

        Safe to call from any thread. While the runner runs, the marker is delivered on the
        runner thread within about ``poll_s``; otherwise at once on the calling thread.

        Parameters
        ----------
        kind : str
            ``"block_start"``, ``"block_end"``, ``"reward"``, ``"note"``, … (see
            :class:`~neurofb.types.Marker`).
        label : str
            Details (the block label, the note text).
        value : float, optional
            A number that goes with it (a threshold, points).
        t : float, optional
            Stream time of the event in seconds, when it is known to have happened at another
            moment than now (a marker received from another program with its own timestamp).
        """
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"marker kind must be a non-empty string, got {kind!r}")
        if t is not None and not (isinstance(t, int | float) and t >= 0 and t == t):
            raise ValueError(f"marker time must be a number of seconds >= 0, got {t!r}")
        marker = Marker(
            t=self.t if t is None else float(t), kind=kind, label=str(label),
            value=None if value is None else float(value),
        )  # fmt: skip
        with self._marker_lock:
            if self._accepting_markers:
                self._marker_queue.put(marker)
                return marker
        with self._callback_lock:
            self._emit("marker", marker)
        return marker

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            try:
                self.source.start()
            except BoardError as err:
                self._start_error = err
                self._status("error", str(err))
                return
            except Exception as err:  # a source that failed in an unplanned way
                log.exception("source %r failed to start", self.source)
                self._start_error = BoardError(f"could not start {self.source.info.board}: {err}")
                self._status("error", str(self._start_error))
                return
            with self._marker_lock:
                self._accepting_markers = True
            self._ready.set()
            self._status("started", f"streaming from {self.source.info.board}")
            self._loop()
        except Exception as err:  # a bug must not pass silently, nor kill the process
            log.exception("stream thread failed")
            self._status("error", f"stream thread failed: {err!r}")
        finally:
            with self._marker_lock:
                self._accepting_markers = False
            self._drain_markers()
            try:
                self.source.stop()
            except Exception:
                log.exception("source %r did not stop cleanly", self.source)
            self._status("stopped", f"{self.samples} samples, {self.updates} updates")
            self._ready.set()
            self._done.set()

    def _loop(self) -> None:
        last_data = time.monotonic()
        trouble_since: float | None = None
        attempt = 0
        next_retry = 0.0
        while not self._stop_event.is_set():
            self._drain_markers()
            failure = None
            try:
                chunk = self.source.read()
            except EndOfStream as end:
                self._status("ended", str(end) or "end of stream")
                return
            except BoardError as err:
                chunk, failure = None, str(err)
            except Exception as err:  # treat an unplanned source failure like a board error
                log.exception("source %r failed to read", self.source)
                chunk, failure = None, f"{type(err).__name__}: {err}"
            now = time.monotonic()
            if chunk is not None and chunk.n_samples > 0:
                if trouble_since is not None:
                    gap = now - trouble_since
                    self._status("resumed", f"samples flow again after {gap:.1f} s")
                    self._internal_marker("reconnect", "resumed", gap)
                    trouble_since, attempt = None, 0
                last_data = now
                self._deliver(chunk)
                continue
            if trouble_since is None:
                if failure is not None:
                    trouble_since, next_retry = now, now
                    log.warning("board failure: %s", failure)
                    self._internal_marker("disconnect", "error", None)
                elif now - last_data >= self.stall_s:
                    trouble_since, next_retry = now, now
                    self._status("stalled", f"no samples for {now - last_data:.1f} s")
                    self._internal_marker("disconnect", "stalled", None)
            if trouble_since is not None and now >= next_retry:
                attempt += 1
                self.reconnects += 1
                reason = failure or "no samples"
                self._status("reconnecting", f"attempt {attempt} ({reason})")
                try:
                    restarted = self._restart()
                except EndOfStream as end:  # a file source has nothing more to give
                    self._status("ended", str(end) or "end of stream")
                    return
                delay = backoff_s(attempt, initial_s=self.retry_initial_s, max_s=self.retry_max_s)
                # After a successful restart give the board stall_s to deliver samples.
                wait = max(delay, self.stall_s) if restarted else delay
                next_retry = time.monotonic() + wait
            self._stop_event.wait(self.poll_s)

    def _restart(self) -> bool:
        try:
            self.source.restart()
        except EndOfStream:
            raise
        except BoardError as err:
            log.info("reconnect failed: %s", err)
            return False
        except Exception:
            log.exception("source %r failed to restart", self.source)
            return False
        return True

    def _deliver(self, chunk: Chunk) -> None:
        self.samples += chunk.n_samples
        with self._callback_lock:
            self._emit("chunk", chunk)
        try:
            updates = self.pipeline.process(chunk)
        except Exception as err:
            log.exception("pipeline failed on a chunk")
            self._report_error(f"pipeline failed: {err!r}")
            return
        self.updates += len(updates)
        take = getattr(self.source, "take_markers", None)
        replayed = take() if take is not None else []  # a replay's own markers, in order
        with self._callback_lock:
            i = 0
            for update in updates:
                while i < len(replayed) and replayed[i].t <= update.t:
                    self._emit("marker", replayed[i])
                    i += 1
                self._emit("update", update)
            for marker in replayed[i:]:
                self._emit("marker", marker)

    def _drain_markers(self) -> None:
        with self._callback_lock:
            while True:
                try:
                    marker = self._marker_queue.get_nowait()
                except queue.Empty:
                    return
                self._emit("marker", marker)

    def _internal_marker(self, kind: str, label: str, value: float | None) -> None:
        marker = Marker(t=self.t, kind=kind, label=label, value=value)
        with self._callback_lock:
            self._emit("marker", marker)

    def _status(self, kind: StatusKind, message: str) -> None:
        event = StatusEvent(kind=kind, message=message, t=self.t)
        log.info("stream %s: %s", kind, message)
        with self._callback_lock:
            self._emit("status", event)

    def _report_error(self, message: str) -> None:
        self.errors += 1
        now = time.monotonic()
        if now - self._last_error.get(message, -ERROR_REPEAT_S) >= ERROR_REPEAT_S:
            self._last_error[message] = now
            self._status("error", message)

    def _emit(self, kind: str, payload: object) -> None:
        for callback in self._listeners[kind]:
            try:
                callback(payload)
            except Exception as err:
                name = getattr(callback, "__qualname__", repr(callback))
                log.exception("%s listener %s failed", kind, name)
                if kind != "status":
                    self._report_error(f"{kind} listener {name} failed: {err!r}")
