"""Markers in: events from other programs (stimulus software, PsychoPy, a game) into the stream.

``--markers-in lsl:NAME`` reads the LSL marker stream ``NAME`` (string samples; PsychoPy,
OpenSesame, Unity and most stimulus software send these; numeric trigger codes are read as the
text ``5``, or ``5,7`` for several channels). Each event becomes a marker of the
stream at the time the *sender* stamped it, mapped onto the stream's own clock
(:class:`neurofb.outputs.clock.StreamClock`), so it lands in the recording's ``markers.jsonl``
beside the sample it happened at — not when it happened to arrive. Text in neurofb's own marker
form with one of neurofb's marker kinds (``block_start:rest``, ``reward:=2``) keeps its kind;
any other text (PsychoPy's ``stim:face`` too) is a ``note`` with the whole text as its label.

``--markers-in udp:PORT`` listens on ``127.0.0.1:PORT`` (this machine only) for UDP datagrams of
UTF-8 text, one marker each, timed when it arrives.

Both run on a thread of their own and hand markers to :meth:`StreamRunner.mark
<neurofb.stream.runner.StreamRunner.mark>`, which delivers them on the runner's thread.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from neurofb.errors import BoardError
from neurofb.lsl import local_clock, pylsl
from neurofb.outputs.clock import StreamClock
from neurofb.recording.mne_files import decode_annotation, marker_text
from neurofb.types import Marker

__all__ = ["MarkersIn", "MarkersInRequest"]

log = logging.getLogger(__name__)

#: Kinds only the session itself writes: received as text, they become notes.
_SESSION_KINDS = ("session_start", "session_end")


class SupportsMark(Protocol):
    """What markers-in needs of a runner."""

    def mark(self, kind: str, label: str = "", value: float | None = None, *,
             t: float | None = None) -> Marker: ...  # fmt: skip


@dataclass(frozen=True)
class MarkersInRequest:
    """Where markers come from: ``lsl:NAME`` or ``udp:PORT``.

    Parameters
    ----------
    spec : str
        ``"lsl:NAME"`` (an LSL marker stream by name) or ``"udp:PORT"`` (datagrams to
        127.0.0.1:PORT).
    """

    spec: str

    def __post_init__(self) -> None:
        kind, _, rest = self.spec.partition(":")
        if kind not in ("lsl", "udp") or not rest:
            raise ValueError(f"markers-in must be lsl:NAME or udp:PORT, got {self.spec!r}")
        if kind == "udp" and not (rest.isdigit() and 0 < int(rest) < 65536):
            raise ValueError(f"udp:PORT needs a port 1-65535, got {rest!r}")

    @property
    def kind(self) -> str:
        """``"lsl"`` or ``"udp"``."""
        return self.spec.partition(":")[0]

    @property
    def target(self) -> str:
        """The stream name or the port."""
        return self.spec.partition(":")[2]


class MarkersIn:
    """Receive markers on a thread and mark them on the runner.

    Parameters
    ----------
    request : MarkersInRequest
        The marker source.
    runner : object with ``mark(kind, label, value, *, t)``
        Usually the stream's :class:`~neurofb.stream.runner.StreamRunner`.
    clock : StreamClock
        The stream's clock (fed by the runner's chunks).
    on_error : callable, optional
        Called with a message when the marker source cannot be read.

    Raises
    ------
    BoardError
        ``udp:PORT`` is in use.
    """

    def __init__(self, request: MarkersInRequest, runner: SupportsMark, clock: StreamClock, *,
                 on_error: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.request = request
        self.runner = runner
        self.clock = clock
        self.on_error = on_error
        self.received = 0
        self._stop = threading.Event()
        self._waiting: list[tuple[str, float]] = []  # (text, LSL time) ahead of the samples
        self._socket: socket.socket | None = None
        if request.kind == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind(("127.0.0.1", int(request.target)))
            except OSError as err:
                sock.close()
                raise BoardError(f"cannot listen for markers on 127.0.0.1:{request.target}: "
                                 f"{err.strerror or err}") from None
            sock.settimeout(0.2)
            self._socket = sock
        self._thread = threading.Thread(target=self._run, name=f"neurofb-markers-in-"
                                        f"{request.spec}", daemon=True)  # fmt: skip

    def start(self) -> None:
        """Start receiving."""
        self._thread.start()

    def close(self, timeout: float = 3.0) -> None:
        """Stop receiving (idempotent); markers still ahead of the samples are placed."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._flush(all_of_them=True)
        if self._socket is not None:
            self._socket.close()

    def _mark(self, text: str, lsl_time: float) -> None:
        """Mark now, or once the stream's samples reach ``lsl_time`` (live: a marker ahead of
        the samples, e.g. during a gap, is placed when they resume, on the first sample after
        the gap, not counted at the nominal rate into samples that came later)."""
        newest = self.clock.newest_lsl_time()
        if self.clock.live and (newest is None or lsl_time > newest + 1.0 / self.clock.sfreq):
            self._waiting.append((text, lsl_time))
            return
        self._place(text, lsl_time)

    def _flush(self, *, all_of_them: bool = False) -> None:
        """Place the waiting markers the samples have reached (every one with ``all_of_them``)."""
        newest = self.clock.newest_lsl_time()
        while self._waiting and (all_of_them or (
                newest is not None and self._waiting[0][1] <= newest + 1.0 / self.clock.sfreq)):
            self._place(*self._waiting.pop(0))

    def _place(self, text: str, lsl_time: float) -> None:
        t = self.clock.stream_t(lsl_time)
        for m in decode_annotation(text, t, 0.0):
            if m.kind in _SESSION_KINDS:  # the session's own bounds are not another program's
                m = Marker(m.t, "note", text)
            self.runner.mark(m.kind, m.label, m.value, t=m.t)
            self.received += 1

    def _run(self) -> None:
        try:
            if self.request.kind == "udp":
                self._run_udp()
            else:
                self._run_lsl()
        except Exception as err:  # never let a marker source take the process down
            log.exception("markers-in %s failed", self.request.spec)
            if self.on_error is not None:
                self.on_error(f"markers-in {self.request.spec} stopped: {err}")

    def _run_udp(self) -> None:
        assert self._socket is not None
        while not self._stop.is_set():
            self._flush()
            try:
                data, _ = self._socket.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            text = data.decode("utf-8", errors="replace").strip()
            if text:
                self._mark(text, local_clock())

    def _run_lsl(self) -> None:
        from neurofb.lsl import xpath_literal

        lsl = pylsl()
        predicate = f"name={xpath_literal(self.request.target)}"
        inlet: Any = None
        waited = False
        while not self._stop.is_set() and inlet is None:
            found = lsl.resolve_bypred(predicate, 1, 0.5)
            if found and found[0].nominal_srate() > 0:  # every sample would become a note
                message = (f"markers-in: LSL stream {self.request.target!r} has a regular "
                           f"sampling rate ({found[0].nominal_srate():g} Hz): it is a signal "
                           "(EEG?), not markers; give the marker stream's name")
                log.error("%s", message)
                if self.on_error is not None:
                    self.on_error(message)
                return
            if found:
                flags = lsl.proc_clocksync | lsl.proc_dejitter | lsl.proc_monotonize
                flags &= ~lsl.proc_dejitter  # markers are irregular: no dejitter
                inlet = lsl.StreamInlet(found[0], recover=True, processing_flags=flags)
                log.info("markers-in: reading LSL stream %s", self.request.target)
            elif not waited:
                waited = True
                log.warning("markers-in: no LSL stream named %s yet; waiting for it",
                            self.request.target)  # fmt: skip
        while not self._stop.is_set() and inlet is not None:
            self._flush()
            try:
                sample, stamp = inlet.pull_sample(timeout=0.2)
            except (RuntimeError, OSError) as err:
                log.warning("markers-in: %s", err)
                continue
            if sample is None:
                continue
            text = marker_text(sample)
            if text:
                self._mark(text, float(stamp))
        if inlet is not None:
            inlet.close_stream()
