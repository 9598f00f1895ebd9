"""OSC out: focus, signal quality, band powers and rewards as Open Sound Control over UDP.

For games, Unity/Unreal scenes, TouchDesigner, Max/MSP, Pure Data, SuperCollider… Two address
sets are sent side by side (each can be turned off); the full table is in ``docs/outputs.md``.

neurofb's own (prefix ``/neurofb``), once per update (every hop, 4 Hz by default):

=================================  =========  ==================================================
``/neurofb/focus``                 ``f``      smoothed focus (only when the window was not gated)
``/neurofb/raw_focus``             ``f``      focus before smoothing (idem)
``/neurofb/quality``               ``f``      signal quality 0–1
``/neurofb/gated``                 ``i s``    1 and the reason when gated, else 0 and ""
``/neurofb/band_power/<band>``     ``f``      relative power of delta, theta, alpha, smr, beta,
                                              gamma, averaged over channels (0–1)
``/neurofb/reward_state``          ``f``      1 above the reward threshold, 0 below (practice
                                              sessions only)
``/neurofb/reward``                ``f``      a reward, with its points (when it happens)
``/neurofb/marker``                ``s s f``  every marker: kind, label, value (NaN if none)
=================================  =========  ==================================================

OpenBCI GUI's (prefix ``/openbci``, as its Networking widget sends them, so receivers written
for it work unchanged): ``/openbci/focus`` (``f``: neurofb's continuous focus, where the GUI
sends 0 or 1), ``/openbci/band-power/<i>`` (``f f f f f``: delta, theta, alpha, beta, gamma of
channel ``i``, counted from 0 — relative powers here, where the GUI sends µV²) and
``/openbci/average-band-power/<j>`` (``f``: band ``j`` of those five, averaged over channels).

UDP does not wait for an answer: a host that is not listening changes nothing for the stream.
Messages are built on the runner's thread and sent from the output's own thread; a send that
fails (a network down, a message too long) is logged and counted, and the next goes out.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import socket
from dataclasses import dataclass
from typing import Any

from neurofb.dsp.features import BANDS
from neurofb.outputs.base import (
    MarkerFilter,
    OutputError,
    PartlySent,
    Sender,
    SupportsListeners,
    SupportsSteps,
)
from neurofb.types import Marker, Update

__all__ = ["OPENBCI_BANDS", "OscOutput", "OscRequest", "parse_address"]

log = logging.getLogger(__name__)

#: OpenBCI GUI's five bands, in its order.
OPENBCI_BANDS: tuple[str, ...] = ("delta", "theta", "alpha", "beta", "gamma")
#: Address sets an OSC output can send.
FORMATS: tuple[str, ...] = ("neurofb", "openbci")


_ADDRESS = re.compile(r"(?:(?:\[(?P<v6>[^\[\]]+)\]|(?P<host>[^:\[\]]+))?:)?(?P<port>[0-9]+)",
                      re.ASCII)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)


def _mean(values: list[float]) -> float:
    """The mean of the finite values (NaN when there is none)."""
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def parse_address(text: str) -> tuple[str, int]:
    """``"host:port"``, ``"[ipv6]:port"`` or ``"port"`` (for 127.0.0.1) as ``(host, port)``.

    The host is checked for its form here (an IPv4 address, an IPv6 address in brackets, or a
    host name), before anything is looked up: ``::1``, ``http://x:9000``, ``1.2.3.4.5`` or a
    second port are errors, not names sent to a name server.

    Raises
    ------
    ValueError
        Not that form, or a port outside 1–65535.
    """
    form = f"expected HOST:PORT, [IPv6]:PORT or PORT (e.g. 127.0.0.1:9000), got {text!r}"
    match = _ADDRESS.fullmatch(text.strip())
    if match is None:
        raise ValueError(form)
    number = int(match["port"])
    if not 0 < number < 65536:
        raise ValueError(f"the OSC port must be 1–65535, got {number}")
    if match["v6"] is not None:
        try:
            return str(ipaddress.IPv6Address(match["v6"])), number
        except ValueError:
            raise ValueError(f"{match['v6']!r} is not an IPv6 address; {form}") from None
    host = match["host"]
    if host is None:
        return "127.0.0.1", number
    labels = host.removesuffix(".").split(".")
    if all(label.isdigit() for label in labels):  # numbers only: it must be an IPv4 address
        try:
            return str(ipaddress.IPv4Address(host)), number
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv4 address; {form}") from None
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a host name; {form}")
    return host, number


@dataclass(frozen=True)
class OscRequest:
    """Send OSC messages to ``host:port``.

    Parameters
    ----------
    host : str
        Receiver's address or host name (resolved once, when the output opens).
    port : int
        Receiver's UDP port.
    formats : tuple of str
        Address sets to send: ``"neurofb"`` and/or ``"openbci"``.
    """

    host: str = "127.0.0.1"
    port: int = 9000
    formats: tuple[str, ...] = FORMATS

    def __post_init__(self) -> None:
        if not 0 < int(self.port) < 65536:
            raise ValueError(f"the OSC port must be 1–65535, got {self.port}")
        unknown = set(self.formats) - set(FORMATS)
        if unknown or not self.formats:
            raise ValueError(f"OSC formats must be among {FORMATS}, got {self.formats}")


def _resolve(host: str, port: int) -> tuple[str, socket.AddressFamily]:
    try:
        ip = ipaddress.ip_address(host)
        return str(ip), socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    except ValueError:
        pass
    try:
        family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    except OSError as err:
        raise OutputError(f"cannot resolve the OSC host {host!r}: {err}") from None
    return str(addr[0]), family


class OscOutput:
    """OSC messages for every update, marker and practice step of a stream.

    Parameters
    ----------
    request : OscRequest
        Where to send, and which address sets.
    ch_names : sequence of str
        The stream's channels (their order numbers the ``/openbci/band-power/<i>`` messages).

    Raises
    ------
    OutputError
        The host cannot be resolved or no socket can be opened.
    """

    def __init__(self, request: OscRequest, ch_names: tuple[str, ...]) -> None:
        from pythonosc.osc_message_builder import OscMessageBuilder

        self.request = request
        self.ch_names = tuple(ch_names)
        self._builder = OscMessageBuilder
        ip, family = _resolve(request.host, int(request.port))
        self.address = (ip, int(request.port))
        try:
            self._socket = socket.socket(family, socket.SOCK_DGRAM)
        except OSError as err:
            raise OutputError(f"cannot open a UDP socket for OSC: {err}") from None
        self._bands = list(BANDS)
        self._openbci = [self._bands.index(b) for b in OPENBCI_BANDS]
        self._runner: SupportsListeners | None = None
        self._marks = MarkerFilter()  # following, session bounds sent
        self._session_markers = False  # the followed session sends its markers itself
        self.board = ""  # the source's name, the label of session_start (as on LSL)
        self.sender = Sender(f"neurofb-osc-{ip}:{request.port}", self._send)

    # -- wiring ---------------------------------------------------------------------------------
    def attach(self, runner: SupportsListeners) -> None:
        """Receive the runner's updates and markers."""
        if self._runner is not None:
            raise RuntimeError("this output is already attached to a stream")
        self._runner = runner
        info = getattr(getattr(runner, "source", None), "info", None)
        self.board = str(getattr(info, "board", "") or "")
        runner.add_update_listener(self.on_update)
        runner.add_marker_listener(self.on_marker)

    def follow(self, session: SupportsSteps) -> None:
        """Also send the reward state and the markers of a practice session's steps."""
        self._marks.following = True
        session.add_step_listener(self.on_step)
        # every marker of the session, as made (Skip's and the end's come outside a step)
        markers = getattr(session, "add_marker_listener", None)
        self._session_markers = callable(markers)
        if callable(markers):
            markers(self._queue_marker)
        done = getattr(session, "add_done_listener", None)
        if callable(done):
            done(lambda _summary: setattr(self._marks, "following", False))

    # -- listeners: build the messages, queue them ------------------------------------------------
    def _message(self, address: str, *args: Any) -> bytes:
        builder = self._builder(address)
        for arg in args:
            if isinstance(arg, bool | int):
                builder.add_arg(int(arg), "i")
            elif isinstance(arg, float):
                builder.add_arg(arg, "f")
            else:
                builder.add_arg(str(arg), "s")
        return builder.build().dgram

    def on_update(self, update: Update) -> None:
        """Update listener: queue the update's messages (``session_start`` before the first,
        as LSL out does)."""
        if not self._marks.started:
            self._marks.started = True
            self._queue_marker(Marker(0.0, "session_start", self.board))
        msgs = []
        rel = update.rel_power  # NaN for a channel without data in the window
        means = [_mean([ch[b] for ch in rel]) for b in range(len(self._bands))]
        if "neurofb" in self.request.formats:
            if update.focus is not None:
                msgs.append(self._message("/neurofb/focus", float(update.focus)))
            if update.raw_focus is not None:
                msgs.append(self._message("/neurofb/raw_focus", float(update.raw_focus)))
            msgs.append(self._message("/neurofb/quality", float(update.quality)))
            gated = update.focus is None
            msgs.append(self._message("/neurofb/gated", int(gated), update.reason if gated else ""))
            for name, value in zip(self._bands, means, strict=True):
                msgs.append(self._message(f"/neurofb/band_power/{name}", float(value)))
        if "openbci" in self.request.formats:
            if update.focus is not None:
                msgs.append(self._message("/openbci/focus", float(update.focus)))
            for i, ch in enumerate(rel):
                msgs.append(self._message(f"/openbci/band-power/{i}",
                                          *(float(ch[b]) for b in self._openbci)))  # fmt: skip
            for j, b in enumerate(self._openbci):
                msgs.append(self._message(f"/openbci/average-band-power/{j}", float(means[b])))
        self.sender.put(msgs)

    def on_marker(self, marker: Marker) -> None:
        """Marker listener (a followed session's own markers come from the session)."""
        if self._marks.passes(marker):
            self._queue_marker(marker)

    def _queue_marker(self, marker: Marker) -> None:
        if "neurofb" not in self.request.formats:
            return
        value = math.nan if marker.value is None else float(marker.value)
        msgs = [self._message("/neurofb/marker", marker.kind, marker.label, value)]
        if marker.kind == "reward":
            msgs.append(self._message("/neurofb/reward", 0.0 if math.isnan(value) else value))
        self.sender.put(msgs)

    def on_step(self, step: Any) -> None:
        """Step listener of a followed practice session: reward state and session markers."""
        if not self._marks.following:
            return
        feedback = step.feedback
        if "neurofb" in self.request.formats and not (feedback.gated or feedback.paused):
            self.sender.put([self._message("/neurofb/reward_state",
                                           float(feedback.on_target))])  # fmt: skip
        if not self._session_markers:
            for marker in step.markers:
                self._queue_marker(marker)

    # -- the sender thread ---------------------------------------------------------------------
    def _send(self, msgs: list[bytes]) -> None:
        error, failed = None, 0
        for dgram in msgs:
            try:
                self._socket.sendto(dgram, self.address)
            except OSError as err:  # one bad message does not stop the others
                error, failed = err, failed + 1
        if error is not None:
            raise PartlySent(failed, error)

    def close(self) -> None:
        """Stop listening, send ``session_end`` (unless the stream marked its own) and what is
        queued, close the socket; idempotent."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            runner.remove_listener(self.on_update)
            runner.remove_listener(self.on_marker)
            if not self._marks.ended:
                self._marks.ended = True
                self._queue_marker(Marker(0.0, "session_end"))
        self.sender.close()
        self._socket.close()
