"""The rest baseline at the start of a session: what the app shows while baseline mode learns.

Baseline mode (:mod:`neurofb.focus.baseline`) re-centres the focus model on the first seconds of
a session, which must be rest. :class:`RestBaseline` is that phase as a state machine: the
practice session (:class:`neurofb.practice.session.PracticeSession`) asks the engine for a new
baseline (``OpenedStream.request_baseline``) when the session starts, feeds this phase every
update until the model reports how it went, and only then starts the exercise. Each step returns
a :class:`RestView` — what the app's guided rest screen draws (time left, clean signal so far,
and at the end whether the baseline was taken).

The phase ends when an update comes from the baseline model (``mode == "baseline"``: taken), or
the model reports the baseline failed — either only for a window the stream scored after it took
this rest's request (``after_t``; a second session on the same stream must not read the last
session's baseline as its own) — (fewer clean windows than it needs: the session goes on in
cold mode), or ``grace_s`` after the rest without any clean window (bad signal: failed), or when
the user skips it (cold mode). It records ``block_start``/``block_end`` markers labelled
``baseline-rest`` and a ``baseline`` marker labelled ``taken``, ``failed`` or ``skipped``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from neurofb.types import Marker, Update

__all__ = ["REST_LABEL", "RestBaseline", "RestView"]

#: Label of the rest block's markers.
REST_LABEL = "baseline-rest"


@dataclass(frozen=True)
class RestView:
    """The guided rest screen.

    Parameters
    ----------
    name : str
        ``"baseline-rest"`` (tells views apart from the exercises').
    t : float
        Stream time of the step, seconds.
    elapsed_s, remaining_s : float
        Seconds of rest so far and left (0 once the rest is over while the model finishes).
    progress : float
        Fraction of the rest done (0–1).
    state : str
        ``"resting"``, ``"taken"``, ``"failed"``, ``"skipped"`` or ``"unavailable"`` (the
        stream's target has no baseline mode).
    done : bool
        The phase is over (the exercise starts with the next update).
    clean_s : float
        Seconds of clean signal so far (gated windows do not count towards the baseline).
    gated : bool
        This update's window was gated (``message`` says why).
    message : str
        One line for the user.
    markers : tuple of Marker
        Markers to record for this step.
    """

    name: str
    t: float
    elapsed_s: float
    remaining_s: float
    progress: float
    state: str
    done: bool
    clean_s: float
    gated: bool
    message: str
    markers: tuple[Marker, ...]


class RestBaseline:
    """The session's first ``rest_s`` seconds of rest, until the model says how it went.

    Parameters
    ----------
    rest_s : float
        Seconds of rest (the baseline mode's length; 60 by default in the app).
    grace_s : float
        Seconds after the rest to wait for the model's answer before calling it failed.
    """

    name = REST_LABEL
    title = "Rest baseline"
    description = ("Sit still with your eyes open and relax: the focus model learns your "
                   "resting signal for this session.")

    def __init__(self, rest_s: float = 60.0, *, grace_s: float = 15.0) -> None:
        if not (math.isfinite(rest_s) and rest_s > 0) or not grace_s >= 0:
            raise ValueError(f"rest_s must be positive and grace_s >= 0, got {rest_s}, {grace_s}")
        self.rest_s = float(rest_s)
        self.grace_s = float(grace_s)
        self.start_t: float | None = None
        self.last_t: float | None = None
        #: Stream time the stream's new baseline starts at (``request_baseline``'s answer):
        #: updates ending at or before it may come from the mode before this rest.
        self.after_t: float | None = None
        self._seen_rest = False
        self.clean_s = 0.0
        self.state = "resting"
        self.view: RestView | None = None

    @property
    def done(self) -> bool:
        """Whether the phase is over."""
        return self.state != "resting"

    def step(self, update: Update) -> RestView:
        """Advance with one pipeline update; return the view (with markers to record)."""
        t = float(update.t)
        markers: list[Marker] = []
        if self.done:
            return self._view(t, False, "", ())
        if self.start_t is None:
            self.start_t = self.last_t = t
            markers.append(Marker(t, "block_start", REST_LABEL))
        dt = max(t - (self.last_t if self.last_t is not None else t), 0.0)
        self.last_t = t
        gated = update.focus is None
        if update.mode == "rest" and (self.after_t is None or t > self.after_t):
            self._seen_rest = True
            if not gated:
                self.clean_s += dt
        # The rest is counted from when the stream takes it: a replay at full speed has scored
        # updates ahead, and the stream's rest starts after them (``after_t``).
        begun = self.start_t if self.after_t is None else max(self.start_t, self.after_t)
        elapsed = t - begun
        # Updates scored before the stream took the request carry the mode before it (on a
        # second session, the last one's "baseline"): this rest's answer comes after its own
        # rest windows, or after the time the stream said the rest starts at.
        answered = self._seen_rest or (self.after_t is not None and t > self.after_t)
        if answered and update.mode == "baseline":
            self.state = "taken"
        elif ((answered and update.mode == "baseline-failed")
              or elapsed >= self.rest_s + self.grace_s):
            self.state = "failed"
        if self.done:
            markers += self._end(t)
        reason = update.reason if gated else ""
        return self._view(t, gated, reason, tuple(markers))

    def skip(self, t: float | None = None, *, state: str = "skipped") -> tuple[Marker, ...]:
        """End the rest early: the user skipped it (``"skipped"``) or the stream has no
        baseline mode (``"unavailable"``); the session runs cold. Returns the closing markers."""
        if self.done:
            return ()
        if state not in ("skipped", "unavailable"):
            raise ValueError(f"state must be skipped or unavailable, got {state!r}")
        self.state = state
        t = self.last_t if t is None else float(t)
        if t is None or self.start_t is None:
            return ()
        markers = self._end(t)
        self.view = self._view(t, False, "", markers)
        return markers

    def _end(self, t: float) -> tuple[Marker, ...]:
        return (Marker(t, "block_end", REST_LABEL), Marker(t, "baseline", self.state))

    def _view(self, t: float, gated: bool, reason: str, markers: tuple[Marker, ...]
              ) -> RestView:
        begun = self.start_t if self.after_t is None or self.start_t is None else max(
            self.start_t, self.after_t)
        elapsed = 0.0 if begun is None else max(t - begun, 0.0)
        if self.state == "taken":
            message = "Baseline taken: feedback is now relative to your own rest."
        elif self.state == "failed":
            message = ("Baseline not taken: too little clean signal during the rest. The "
                       "session goes on without it (cold mode).")
        elif self.state == "skipped":
            message = "Baseline skipped: the session runs without it (cold mode)."
        elif self.state == "unavailable":
            message = "No baseline: the feedback target is not the focus model."
        elif gated:
            message = f"Signal: {reason}" if reason else "Signal: waiting for a clean signal"
        elif elapsed >= self.rest_s:
            message = "Almost done…"
        else:
            message = "Sit still, eyes open, and relax."
        self.view = RestView(
            name=REST_LABEL, t=t, elapsed_s=min(elapsed, self.rest_s),
            remaining_s=max(self.rest_s - elapsed, 0.0),
            progress=min(elapsed / self.rest_s, 1.0), state=self.state, done=self.done,
            clean_s=self.clean_s, gated=gated, message=message, markers=markers)
        return self.view
