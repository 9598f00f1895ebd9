"""Ctrl-C, SIGTERM and SIGHUP for commands that stream: stop once, cleanly, and say so.

:func:`stop_on_signals` turns the first SIGINT (Ctrl-C), SIGTERM or SIGHUP (the terminal was
closed) into a ``KeyboardInterrupt`` (so ``kill`` or closing the terminal stops a stream as
cleanly as Ctrl-C: trace and recording closed, summary printed);
further ones while the command closes its files are acknowledged on stderr and otherwise
ignored (and ignored outright once it has printed its summary), so pressing Ctrl-C three times
neither cuts the closing short nor fills the terminal with tracebacks from interpreter shutdown.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["open_watching_interrupts", "stop_on_signals"]

#: Ctrl-C, ``kill``, and the terminal closing (SIGHUP, where the platform has it).
_SIGNALS = (signal.SIGINT, signal.SIGTERM,
            *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, the first SIGINT/SIGTERM/SIGHUP raises KeyboardInterrupt; later ones
    are ignored.

    Only on the main thread (signal handlers can be set nowhere else); elsewhere it does
    nothing. The previous handlers are restored when the block ends, unless a signal stopped
    it: the process is then on its way out, and later signals are ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = {"stopping": False, "told": False, "signalled": False}

    def handler(signum: int, frame: Any) -> None:
        state["signalled"] = True
        if not state["stopping"]:
            state["stopping"] = True
            raise KeyboardInterrupt
        if not state["told"]:
            state["told"] = True
            sys.stderr.write("already stopping: closing the trace and the recording, "
                             "one moment\n")
            sys.stderr.flush()

    previous = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield
    except KeyboardInterrupt:
        state["stopping"] = True  # a Ctrl-C that arrived some other way: the same from now on
        raise
    finally:
        for sig, old in previous.items():
            # Stopped by a signal, the process is on its way out: one more Ctrl-C during
            # interpreter shutdown (atexit, thread joins) must neither raise there nor kill it
            # with a signal status. SIG_IGN is the one disposition Python keeps at shutdown.
            signal.signal(sig, signal.SIG_IGN if state["signalled"] else old)


def open_watching_interrupts(open_: Any, *args: Any, **kwargs: Any) -> Any:
    """``open_(*args, **kwargs)`` (a stream's start-up), where a Ctrl-C cannot be lost.

    A Ctrl-C during start-up raises ``KeyboardInterrupt`` as usual, but one that lands inside
    a C extension (ONNX Runtime creating a session) can come back out as that extension's
    own error, which a fallback would then take for a model that does not fit the stream, and
    the stream would run on. Here the signal is also remembered: if start-up returns after
    one, what it opened is closed and ``KeyboardInterrupt`` raised. Only on the main thread
    (elsewhere it just calls ``open_``).
    """
    if threading.current_thread() is not threading.main_thread():
        return open_(*args, **kwargs)
    seen: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        opened = open_(*args, **kwargs)
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen:
        opened.close()
        raise KeyboardInterrupt
    return opened
