"""LSL out: neurofb's focus, markers and (optionally) filtered EEG as Lab Streaming Layer streams.

Three outlets, named after :attr:`LslOutRequest.name` (default ``neurofb``), so LabRecorder
records them beside the EEG, and a game or Unity scene (LSL4Unity) reads focus as it comes:

``<name>-Focus`` (type ``Focus``, 4 × float32, regular at the hop rate, 4 Hz by default)
    ``focus`` (smoothed, NaN when the window was gated), ``raw_focus`` (before smoothing),
    ``quality`` (0–1) and ``reward_state`` (1 while focus is above the reward threshold of a
    practice session, 0 below, NaN outside a session). Each channel's label, unit and type are in
    the stream's ``<desc><channels>``; ``<desc><neurofb>`` gives the target and the hop.
``<name>-Markers`` (type ``Markers``, 1 string channel, irregular)
    Session start and end, block starts and ends with their labels, rewards (value = points),
    threshold changes, disconnects: ``kind``, ``kind:label`` or ``kind:label=value`` (the same
    text neurofb writes into EDF annotations, and reads back from XDF files).
``<name>-EEG`` (type ``EEG``, float32 µV, at the source's rate; only with ``eeg=True``)
    The EEG after neurofb's band-pass and mains notch, channel labels and ``microvolts``;
    ``<desc>`` says so (``<filtering>``, ``<acquisition><manufacturer>neurofb``), and XDF import
    reads it only when a file holds no other EEG stream.

Timestamps are on the LSL clock (``local_clock()``) and match the trace: a focus sample carries
the LSL time of the newest EEG sample of its window (the sample with index ``t · sfreq − 1`` of
the trace's ``t``), a marker the LSL time of the sample it precedes — see
:mod:`neurofb.outputs.clock` for how a board's, an LSL inlet's and a replay's samples get their
LSL times. So in LabRecorder's XDF file, focus and markers line up with the EEG stream.

Pushing a sample to liblsl does not wait for receivers, but it happens on the output's own
sender thread all the same (:class:`~neurofb.outputs.base.Sender`), never on the runner's.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurofb.dsp.filters import StreamFilter, design_filter
from neurofb.lsl import pylsl
from neurofb.outputs.base import (
    MarkerFilter,
    OutputError,
    Sender,
    SupportsListeners,
    SupportsSteps,
)
from neurofb.outputs.clock import StreamClock
from neurofb.recording.mne_files import encode_marker
from neurofb.types import Chunk, Marker, SourceInfo, Update

__all__ = ["FOCUS_CHANNELS", "LslOutRequest", "LslOutput"]

log = logging.getLogger(__name__)

#: The focus stream's channels: (label, unit, type).
FOCUS_CHANNELS: tuple[tuple[str, str, str], ...] = (
    ("focus", "normalized", "Focus"),
    ("raw_focus", "normalized", "Focus"),
    ("quality", "fraction", "Quality"),
    ("reward_state", "boolean", "Reward"),
)
#: Seconds the outlets stay open after the last sample when someone is reading them.
LINGER_S = 0.5



@dataclass(frozen=True)
class LslOutRequest:
    """Publish the stream over LSL.

    Parameters
    ----------
    name : str
        Prefix of the outlets' names (``<name>-Focus``, ``<name>-Markers``, ``<name>-EEG``).
    eeg : bool
        Also publish the filtered EEG.
    """

    name: str = "neurofb"
    eeg: bool = False

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise ValueError("the LSL stream name must not be empty")


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


class LslOutput:
    """Focus, marker and EEG outlets fed by a runner's listeners.

    Parameters
    ----------
    request : LslOutRequest
        Names and what to publish.
    info : SourceInfo
        The stream's channels and sampling rate.
    hop_s : float
        Seconds between updates (the focus stream's nominal rate is ``1 / hop_s``).
    clock : StreamClock
        Sample counts to LSL times.
    target : str
        What focus means (written into the focus stream's description).
    filter_spec : callable, optional
        For ``eeg=True``: returns ``(known, l_freq, h_freq, line_freq)`` — whether the pipeline
        has settled its filters yet, and their settings (EEG is held until it has).

    Raises
    ------
    OutputError
        liblsl is missing or an outlet cannot be made.
    """

    def __init__(
        self,
        request: LslOutRequest,
        info: SourceInfo,
        *,
        hop_s: float,
        clock: StreamClock,
        target: str = "",
        filter_spec: Callable[[], tuple[bool, float, float, float | None]] | None = None,
    ) -> None:
        self.request = request
        self.info = info
        self.clock = clock
        self.hop_s = float(hop_s)
        self._filter_spec = filter_spec
        self._filter: StreamFilter | None = None
        self._held: list[Chunk] = []
        self._early: list[Marker] = []  # markers made before the first chunk
        self._runner: SupportsListeners | None = None
        self._marks = MarkerFilter()  # following, session bounds sent
        self._session_markers = False  # the followed session sends its markers itself
        #: session_start held until the marker outlet has a receiver (text, LSL time)
        self._pending_start: tuple[str, float] | None = None
        self._n_samples = 0  # samples of the stream so far: session_end goes before the next
        try:
            lsl = pylsl()
            self.focus_outlet = lsl.StreamOutlet(self._focus_info(lsl, target))
            self.marker_outlet = lsl.StreamOutlet(self._marker_info(lsl))
            self.eeg_outlet = lsl.StreamOutlet(self._eeg_info(lsl)) if request.eeg else None
        except OutputError:
            raise
        except Exception as err:  # LslError, or liblsl refusing (no network interface...)
            raise OutputError(f"cannot open the LSL outlets {request.name}-*: {err}") from None
        self.sender = Sender(f"neurofb-lsl-out-{request.name}", self._send)

    # -- stream descriptions ------------------------------------------------------------------
    def _focus_info(self, lsl: Any, target: str) -> Any:
        name = self.request.name
        info = lsl.StreamInfo(f"{name}-Focus", "Focus", len(FOCUS_CHANNELS), 1.0 / self.hop_s,
                              "float32", f"{name}-focus")  # fmt: skip
        chans = info.desc().append_child("channels")
        for label, unit, kind in FOCUS_CHANNELS:
            ch = chans.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", unit)
            ch.append_child_value("type", kind)
        meta = info.desc().append_child("neurofb")
        meta.append_child_value("target", target or "model")
        meta.append_child_value("hop_s", f"{self.hop_s:g}")
        meta.append_child_value("source", self.info.board)
        meta.append_child_value("timestamps", "LSL time of the newest EEG sample of the window")
        info.desc().append_child("acquisition").append_child_value("manufacturer", "neurofb")
        return info

    def _marker_info(self, lsl: Any) -> Any:
        name = self.request.name
        info = lsl.StreamInfo(f"{name}-Markers", "Markers", 1, lsl.IRREGULAR_RATE, "string",
                              f"{name}-markers")  # fmt: skip
        info.desc().append_child_value("format", "kind | kind:label | kind:label=value")
        return info

    def _eeg_info(self, lsl: Any) -> Any:
        name = self.request.name
        info = lsl.StreamInfo(f"{name}-EEG", "EEG", len(self.info.ch_names), self.info.sfreq,
                              "float32", f"{name}-eeg")  # fmt: skip
        chans = info.desc().append_child("channels")
        for label in self.info.ch_names:
            ch = chans.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", "microvolts")
            ch.append_child_value("type", "EEG")
        info.desc().append_child_value("filtering", "neurofb band-pass and mains notch (causal)")
        # what XDF import tells apart from the headset's own stream in a LabRecorder file
        info.desc().append_child("acquisition").append_child_value("manufacturer", "neurofb")
        return info

    # -- wiring ---------------------------------------------------------------------------------
    def attach(self, runner: SupportsListeners) -> None:
        """Receive the runner's chunks, updates and markers."""
        if self._runner is not None:
            raise RuntimeError("this output is already attached to a stream")
        self._runner = runner
        runner.add_chunk_listener(self.on_chunk)
        runner.add_update_listener(self.on_update)
        runner.add_marker_listener(self.on_marker)

    def follow(self, session: SupportsSteps) -> None:
        """Take focus with the reward state, and the session's markers, from a practice session.

        While it runs, each focus sample is sent from the session's step (which carries the
        reward decision) instead of from the bare update.
        """
        self._marks.following = True
        session.add_step_listener(self.on_step)
        # every marker of the session, as made: those of its steps, and Skip's and the end's,
        # which come outside a step (a session without this listener: its steps' markers)
        markers = getattr(session, "add_marker_listener", None)
        self._session_markers = callable(markers)
        if callable(markers):
            markers(self._queue_marker)
        done = getattr(session, "add_done_listener", None)
        if callable(done):
            done(lambda _summary: self._unfollow())

    def _unfollow(self) -> None:
        self._marks.following = False

    # -- listeners (the runner's thread): quick, queue only ------------------------------------
    def on_chunk(self, chunk: Chunk) -> None:
        """Chunk listener: advance the clock, queue filtered EEG."""
        self.clock.on_chunk(chunk)
        early, self._early = self._early, []
        for marker in early:  # marked before the first sample: now the clock can place them
            self._queue_marker(marker)
        self._n_samples = max(self._n_samples, chunk.first_sample + chunk.n_samples)
        if not self._marks.started:
            self._marks.started = True
            self._queue_marker(Marker(chunk.first_sample / chunk.sfreq, "session_start",
                                      self.info.board))  # fmt: skip
        if self.eeg_outlet is not None:
            self._eeg(chunk)

    def on_update(self, update: Update) -> None:
        """Update listener: queue a focus sample (unless a followed session sends it)."""
        if not self._marks.following:
            self._queue_focus(update, None)

    def on_step(self, step: Any) -> None:
        """Step listener of a followed practice session."""
        if not self._marks.following:
            return
        feedback = step.feedback
        state = None if feedback.gated or feedback.paused else float(feedback.on_target)
        self._queue_focus(step.update, state)
        if not self._session_markers:
            for marker in step.markers:
                self._queue_marker(marker)

    def on_marker(self, marker: Marker) -> None:
        """Marker listener: queue it (a followed session's own kinds come from its steps)."""
        if self._marks.passes(marker):
            self._queue_marker(marker)

    def _queue_focus(self, update: Update, reward_state: float | None) -> None:
        values = [_nan(update.focus), _nan(update.raw_focus), float(update.quality),
                  _nan(reward_state)]  # fmt: skip
        self.sender.put(("focus", values, self.clock.update_time(update.t)))

    def _queue_marker(self, marker: Marker) -> None:
        if not self.clock.ready:  # live, before the first chunk: its sample has no LSL time yet
            self._early.append(marker)
            return
        stamp = self.clock.lsl_time(round(marker.t * self.clock.sfreq))
        self.sender.put(("marker", encode_marker(marker), stamp))

    def _eeg(self, chunk: Chunk) -> None:
        if self._filter is None:
            known, l_freq, h_freq, line_freq = (self._filter_spec() if self._filter_spec
                                                else (True, 1.0, 45.0, None))  # fmt: skip
            self._held.append(chunk)
            if not known:
                return
            sos = design_filter(chunk.sfreq, l_freq=l_freq, h_freq=h_freq, line_freq=line_freq)
            self._filter = StreamFilter(sos, len(self.info.ch_names))
            held, self._held = self._held, []
        else:
            held = [chunk]
        for c in held:
            data = np.nan_to_num(np.asarray(c.data, dtype=float))
            filtered = self._filter.process(data)
            stamps = [self.clock.lsl_time(c.first_sample + i) for i in range(c.n_samples)]
            self.sender.put(("eeg", filtered.T.astype(np.float32), stamps))

    # -- the sender thread --------------------------------------------------------------------
    def _send(self, message: tuple) -> None:
        kind, payload, stamp = message
        if self._pending_start is not None and self.marker_outlet.have_consumers():
            self.marker_outlet.push_sample([self._pending_start[0]], self._pending_start[1])
            self._pending_start = None
        if kind == "marker" and payload.startswith("session_start") and (
                not self.marker_outlet.have_consumers()):
            # liblsl gives an inlet only what is pushed after it connects, and the outlet was
            # made a moment ago: keep session_start (with its time) for the first receiver
            self._pending_start = (payload, stamp)
            return
        if kind == "focus":
            self.focus_outlet.push_sample(payload, stamp)
        elif kind == "marker":
            self.marker_outlet.push_sample([payload], stamp)
        elif kind == "eeg" and self.eeg_outlet is not None:
            self.eeg_outlet.push_chunk(payload.tolist(), stamp)

    def close(self) -> None:
        """Send ``session_end``, flush, and close the outlets; idempotent.

        ``session_end`` (unless the stream marked its own) is stamped like a marker at the end
        of the stream: the LSL time of the sample after the last, on the stream's clock, so it
        follows the last focus and EEG samples at every replay speed.
        """
        if self._runner is not None:
            runner, self._runner = self._runner, None
            for cb in (self.on_chunk, self.on_update, self.on_marker):
                runner.remove_listener(cb)
        if self._marks.started and not self._marks.ended:
            self._marks.ended = True
            self._queue_marker(Marker(self._n_samples / self.clock.sfreq, "session_end"))
        self.sender.close()
        outlets = [o for o in (self.focus_outlet, self.marker_outlet, self.eeg_outlet) if o]
        if any(o.have_consumers() for o in outlets):
            time.sleep(LINGER_S)  # liblsl sends asynchronously: let the last samples leave
        self.focus_outlet = self.marker_outlet = self.eeg_outlet = None  # type: ignore[assignment]
