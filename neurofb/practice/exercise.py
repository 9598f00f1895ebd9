"""The base of the exercises: the session clock, start/end markers, the common view fields.

Private: import from :mod:`neurofb.practice.exercises`, which re-exports :class:`Exercise` and
:class:`ExerciseView`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

from neurofb.practice.reward import FeedbackState
from neurofb.types import Marker

#: Slack (s) for comparing times that are sums of hops (floating-point rounding).
TIME_EPS_S = 1e-9


@dataclass(frozen=True)
class ExerciseView:
    """What every exercise view shows.

    Parameters
    ----------
    name : str
        Exercise name (a key of :data:`EXERCISES`).
    t : float
        Stream time of the step, seconds.
    elapsed_s : float
        Unpaused exercise time, seconds.
    remaining_s, progress : float or None
        Seconds left and fraction done (0–1); None for an open-ended exercise.
    done, paused : bool
        The exercise is over; the session is paused.
    focus, threshold : float or None, float
        Focus (None when gated) and the reward threshold at this step.
    gated : bool
        The signal was bad: no reward; ``message`` says why.
    message : str
        A short line for the user ("Signal: <reason>", "Paused"), empty when all is well.
    markers : tuple of Marker
        Markers to record for this step (block starts and ends).
    """

    name: str
    t: float
    elapsed_s: float
    remaining_s: float | None
    progress: float | None
    done: bool
    paused: bool
    focus: float | None
    threshold: float
    gated: bool
    message: str
    markers: tuple[Marker, ...]

class Exercise:
    """Base class: the session clock, start/end markers and the common view fields.

    Parameters
    ----------
    duration_s : float or None
        Length of the exercise in seconds of unpaused time; None runs until :meth:`finish`.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: False when rewards must not be given during the exercise (calibration).
    uses_feedback: ClassVar[bool] = True

    def __init__(self, *, duration_s: float | None = 300.0) -> None:
        if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"duration_s must be positive (or None), got {duration_s}")
        self.duration_s = None if duration_s is None else float(duration_s)
        self.elapsed_s = 0.0
        self.started = False
        self.done = False
        self.view: ExerciseView | None = None
        self._last_t: float | None = None
        self._prev_t: float | None = None

    @property
    def remaining_s(self) -> float | None:
        """Seconds left, or None for an open-ended exercise."""
        if self.duration_s is None:
            return None
        return max(self.duration_s - self.elapsed_s, 0.0)

    @property
    def progress(self) -> float | None:
        """Fraction done (0–1), or None for an open-ended exercise."""
        if self.duration_s is None:
            return None
        return min(self.elapsed_s / self.duration_s, 1.0)

    def step(self, fb: FeedbackState) -> ExerciseView:
        """Advance with one feedback state; return the view to draw (with markers to record).

        After the exercise is done, steps change nothing and return the final view without
        markers.
        """
        if self.done:
            if self.view is None:  # finished before it started
                self.view = self._view(fb, ())
            return replace(self.view, markers=())
        markers: list[Marker] = []
        if not self.started:
            self.started = True
            self._last_t = fb.t
            markers.append(Marker(fb.t, "block_start", self.name))
        dt = 0.0 if fb.paused else max(fb.t - self._last_t, 0.0)
        self._prev_t, self._last_t = self._last_t, fb.t
        e0 = self.elapsed_s
        e1 = e0 + dt
        end_t = None
        if self.duration_s is not None and e1 >= self.duration_s - TIME_EPS_S:
            end_t = fb.t - (e1 - self.duration_s)
            e1 = self.duration_s
        self.elapsed_s = e1
        markers += self._advance(fb, e0, e1)
        if end_t is not None:
            markers += self._close(end_t)
            markers.append(Marker(end_t, "block_end", self.name))
            self.done = True
        self.view = self._view(fb, tuple(markers))
        return self.view

    def finish(self, t: float | None = None) -> tuple[Marker, ...]:
        """End the exercise early; return its closing markers (none if not started or done).

        Parameters
        ----------
        t : float, optional
            Stream time of the end, seconds; defaults to the last step's time.
        """
        if self.done or not self.started:
            self.done = True
            return ()
        t = self._last_t if t is None else float(t)
        markers = (*self._close(t), Marker(t, "block_end", self.name))
        self.done = True
        if self.view is not None:
            self.view = replace(self.view, done=True, markers=markers)
        return markers

    # -- hooks ---------------------------------------------------------------------------
    def _advance(self, fb: FeedbackState, e0: float, e1: float) -> list[Marker]:
        """Move the exercise from elapsed time ``e0`` to ``e1``; return inner markers."""
        return []

    def _close(self, t: float) -> list[Marker]:
        """Close what is open at stream time ``t`` (before the exercise's own block end)."""
        return []

    def _view(self, fb: FeedbackState, markers: tuple[Marker, ...]) -> ExerciseView:
        return ExerciseView(**self._common(fb, markers))

    def _common(self, fb: FeedbackState, markers: tuple[Marker, ...]) -> dict:
        if fb.paused:
            message = "Paused"
        elif fb.gated:
            message = f"Signal: {fb.reason}" if fb.reason else "Signal: waiting for a clean signal"
        else:
            message = ""
        return dict(
            name=self.name, t=fb.t, elapsed_s=self.elapsed_s, remaining_s=self.remaining_s,
            progress=self.progress, done=self.done, paused=fb.paused, focus=fb.focus,
            threshold=fb.threshold, gated=fb.gated, message=message, markers=markers,
        )

class Flash:
    """A reward flash: 1 at a reward, fading linearly to 0 over ``flash_s`` of exercise time."""

    def __init__(self, flash_s: float) -> None:
        if not flash_s > 0:
            raise ValueError(f"flash_s must be positive, got {flash_s}")
        self.flash_s = flash_s
        self._at: float | None = None

    def update(self, fb: FeedbackState, elapsed_s: float) -> float:
        """The flash's strength now, in [0, 1] (a reward in ``fb`` restarts it).

        Parameters
        ----------
        fb : FeedbackState
            The reward logic's decision for the latest update.
        elapsed_s : float
            Exercise time (s), which pauses when the exercise does.

        Returns
        -------
        float
            1 at the reward, 0 once ``flash_s`` has passed (or before any reward).
        """
        if fb.reward:
            self._at = elapsed_s
        if self._at is None:
            return 0.0
        return max(0.0, 1.0 - (elapsed_s - self._at) / self.flash_s)
