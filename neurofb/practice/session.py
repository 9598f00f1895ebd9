"""A training session: pipeline updates → reward logic → exercise → markers → summary.

:class:`PracticeSession` ties a :class:`neurofb.practice.reward.RewardController` and an
:class:`neurofb.practice.exercises.Exercise` together. Feed it updates (or
:meth:`PracticeSession.start` it on a :class:`neurofb.stream.runner.StreamRunner`, which then feeds
it on the runner thread); each update gives a :class:`SessionStep` with the feedback state, the
exercise view and the markers of that step. It is Qt-free: the app connects its step and done
listeners to queued Qt signals.

Markers (exercise and calibration blocks, rewards, threshold changes) go to the ``recorder``
when one is given (``recorder.write_marker``, exact update times), otherwise to
``runner.mark`` (timestamped with the runner's stream clock, which its marker listeners — a
recorder among them — receive); they are also kept in :attr:`PracticeSession.markers`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from neurofb.library.summary import SessionSummary
from neurofb.practice.exercises import Exercise, ExerciseView
from neurofb.practice.reward import FeedbackState, FeedbackSummary, RewardConfig, RewardController
from neurofb.types import Marker, Update

log = logging.getLogger(__name__)


class SupportsMark(Protocol):
    """What the session needs of a runner (``neurofb.stream.runner.StreamRunner`` has it)."""

    def mark(self, kind: str, label: str = "", value: float | None = None) -> Marker: ...

    def add_update_listener(self, callback: Callable[[Update], object]) -> None: ...

    def remove_listener(self, callback: Callable[[Any], object]) -> None: ...


class SupportsWriteMarker(Protocol):
    """What the session needs of a recorder (``neurofb.recording.folder.RecordingWriter`` has
    it)."""

    def write_marker(self, marker: Marker) -> None: ...


@dataclass(frozen=True)
class SessionStep:
    """One update's outcome: the update, the reward decision, the exercise view, the markers."""

    update: Update
    feedback: FeedbackState
    view: ExerciseView
    markers: tuple[Marker, ...]


class PracticeSession:
    """Drive an exercise and the reward logic from pipeline updates.

    Parameters
    ----------
    runner : StreamRunner or None
        The live stream. :meth:`start` subscribes to its updates; markers go to its ``mark``
        unless a ``recorder`` is given. None for a headless session fed with :meth:`feed`.
    exercise : Exercise
        The exercise (a fresh one: exercises run once).
    reward_config : RewardConfig, optional
        Reward rules. For an exercise without feedback (calibration) rewards are switched off.
    recorder : object with ``write_marker(marker)``, optional
        Where to write the session's markers, with their exact update times.

    Notes
    -----
    All methods are thread-safe: a runner may feed the session on its thread while the app
    pauses or finishes it from the GUI thread. Listeners run on the thread that fed the update
    (or called :meth:`finish`); they must be quick and must not touch Qt widgets.
    """

    def __init__(
        self,
        runner: SupportsMark | None,
        exercise: Exercise,
        reward_config: RewardConfig | None = None,
        *,
        recorder: SupportsWriteMarker | None = None,
    ) -> None:
        if not isinstance(exercise, Exercise):
            raise ValueError(f"exercise must be an Exercise, got {type(exercise).__name__}")
        if exercise.started:
            raise ValueError(f"exercise {exercise.name!r} has already run; make a new one")
        config = reward_config if reward_config is not None else RewardConfig()
        if not exercise.uses_feedback:
            config = replace(config, rewards=False)
        self.runner = runner
        self.exercise = exercise
        self.controller = RewardController(config)
        self.recorder = recorder
        self.markers: list[Marker] = []
        self.last: SessionStep | None = None
        self.done = False
        self._lock = threading.RLock()
        self._step_listeners: list[Callable[[SessionStep], object]] = []
        self._done_listeners: list[Callable[[FeedbackSummary], object]] = []
        self._attached = False

    # -- listeners and control -----------------------------------------------------------
    def add_step_listener(self, callback: Callable[[SessionStep], object]) -> None:
        """Call ``callback(step)`` with every :class:`SessionStep`."""
        self._step_listeners.append(callback)

    def add_done_listener(self, callback: Callable[[FeedbackSummary], object]) -> None:
        """Call ``callback(summary)`` once, when the session ends (time up or :meth:`finish`)."""
        self._done_listeners.append(callback)

    def start(self) -> None:
        """Subscribe to the runner's updates (they then feed the session on the runner thread)."""
        if self.runner is None:
            raise ValueError("this session has no runner: feed it updates with feed(update)")
        with self._lock:
            if self.done:
                raise ValueError("this session has ended; make a new one")
            if not self._attached:
                self.runner.add_update_listener(self.feed)
                self._attached = True

    @property
    def paused(self) -> bool:
        """Whether the session is paused."""
        return self.controller.paused

    def pause(self) -> None:
        """Pause: no rewards, the exercise clock stops, calibration blocks close."""
        with self._lock:
            self.controller.pause()

    def resume(self) -> None:
        """Resume after :meth:`pause`."""
        with self._lock:
            self.controller.resume()

    def set_target_rate(self, target_rate: float) -> None:
        """Change the target on-target fraction of the adaptive threshold, in (0, 1)."""
        with self._lock:
            self.controller.set_target_rate(target_rate)

    # -- stepping ------------------------------------------------------------------------
    def feed(self, update: Update) -> SessionStep | None:
        """Process one pipeline update; return its step (None once the session has ended)."""
        with self._lock:
            if self.done:
                return None
            feedback = self.controller.step(update)
            view = self.exercise.step(feedback)
            markers = tuple(sorted((*feedback.events, *view.markers), key=lambda m: m.t))
            self._emit(markers)
            step = SessionStep(update=update, feedback=feedback, view=view, markers=markers)
            self.last = step
            listeners = list(self._step_listeners)
        for cb in listeners:
            cb(step)
        if view.done:
            self.finish()
        return step

    def finish(self, t: float | None = None) -> FeedbackSummary:
        """End the session (idempotent): close the exercise's blocks, stop listening, summarise.

        Parameters
        ----------
        t : float, optional
            Stream time of the end, seconds; defaults to the last update's time.
        """
        with self._lock:
            if self.done:
                return self.summary()
            self.done = True
            self._emit(self.exercise.finish(t))
            if self._attached and self.runner is not None:
                self.runner.remove_listener(self.feed)
                self._attached = False
            summary = self.summary()
            listeners = list(self._done_listeners)
        for cb in listeners:
            cb(summary)
        return summary

    def _emit(self, markers: tuple[Marker, ...]) -> None:
        for m in markers:
            self.markers.append(m)
            if self.recorder is not None:
                self.recorder.write_marker(m)
            elif self.runner is not None:
                self.runner.mark(m.kind, m.label, m.value)

    # -- summaries -----------------------------------------------------------------------
    def summary(self) -> FeedbackSummary:
        """The feedback summary so far, with a block for every block marker of the session."""
        with self._lock:
            return self.controller.summary(self.markers)

    def session_summary(self, **fields: Any) -> SessionSummary:
        """The summary as a session-library row (:class:`neurofb.library.summary.SessionSummary`).

        Parameters
        ----------
        **fields
            The fields the session cannot know: ``user``, ``started_at``, ``model``,
            ``model_hash``, ``board``, ``recording_path``, ``notes``.
        """
        s = self.summary()
        counts: dict[str, int] = {}
        block_focus: dict[str, float] = {}
        for b in s.blocks:
            counts[b.label] = counts.get(b.label, 0) + 1
            key = b.label if counts[b.label] == 1 else f"{b.label} {counts[b.label]}"
            if b.mean_focus is not None:
                block_focus[key] = b.mean_focus
        return SessionSummary(
            **fields,
            duration_s=s.duration_s,
            exercise=self.exercise.name,
            mean_focus=s.mean_focus,
            time_above_s=s.time_on_target_s,
            fraction_above=s.on_target_fraction,
            rewards=s.rewards,
            points=s.points,
            longest_streak=s.longest_streak,
            quality=s.mean_quality,
            threshold=s.threshold_end if self.controller.config.rewards else None,
            block_focus=block_focus,
        )
