"""A training session: pipeline updates → reward logic → exercise → markers → summary.

:class:`PracticeSession` ties a :class:`neurofb.practice.reward.RewardController` and an
:class:`neurofb.practice.exercises.Exercise` together. Feed it updates (or
:meth:`PracticeSession.start` it on a :class:`neurofb.stream.runner.StreamRunner`, which then feeds
it on the runner thread); each update gives a :class:`SessionStep` with the feedback state, the
exercise view and the markers of that step. It is Qt-free: the app connects its step and done
listeners to queued Qt signals.

With ``rest_s`` (baseline mode), the session starts with a guided rest
(:class:`neurofb.practice.rest.RestBaseline`): it asks the stream for a new baseline
(``baseline.request_baseline(rest_s)``), steps out :class:`~neurofb.practice.rest.RestView`
views with the reward logic paused until the focus model reports the baseline taken or failed
(or the user skips it: :meth:`PracticeSession.skip_rest`, cold mode), then runs the exercise.

Markers (exercise and calibration blocks, rewards, threshold changes) go to the ``recorder``
when one is given (``recorder.write_marker``, exact update times), otherwise to
``runner.mark`` (timestamped with the runner's stream clock, which its marker listeners — a
recorder among them — receive); they are also kept in :attr:`PracticeSession.markers`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from neurofb.errors import NeurofbError
from neurofb.library.summary import SessionSummary
from neurofb.practice.exercises import Exercise, ExerciseView
from neurofb.practice.rest import RestBaseline, RestView
from neurofb.practice.reward import FeedbackState, FeedbackSummary, RewardConfig, RewardController
from neurofb.types import Marker, Update

log = logging.getLogger(__name__)


class SupportsMark(Protocol):
    """What the session needs of a runner (``neurofb.stream.runner.StreamRunner`` has it)."""

    def mark(self, kind: str, label: str = "", value: float | None = None) -> Marker: ...

    def add_update_listener(self, callback: Callable[[Update], object]) -> None: ...

    def remove_listener(self, callback: Callable[[Any], object]) -> None: ...


class SupportsBaseline(Protocol):
    """What baseline mode needs of a stream (``neurofb.stream.assemble.OpenedStream`` has it)."""

    def request_baseline(self, baseline_s: float | None) -> float | None: ...


class SupportsWriteMarker(Protocol):
    """What the session needs of a recorder (``neurofb.recording.folder.RecordingWriter`` has
    it)."""

    def write_marker(self, marker: Marker) -> None: ...


@dataclass(frozen=True)
class SessionStep:
    """One update's outcome: the update, the reward decision, the exercise view, the markers."""

    update: Update
    feedback: FeedbackState
    view: ExerciseView | RestView
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
    rest_s : float
        Baseline mode: seconds of guided rest before the exercise (0: none, cold mode).
    baseline : object with ``request_baseline(seconds)``, optional
        The stream whose focus model takes the baseline (needed with ``rest_s``). Given
        without ``rest_s``, the session asks it for cold mode when it starts: a baseline an
        earlier session took on the same stream is not carried into this one.

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
        rest_s: float = 0.0,
        baseline: SupportsBaseline | None = None,
    ) -> None:
        if rest_s and baseline is None:
            raise ValueError("a rest baseline needs the stream (baseline=) to take it")
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
        self.rest = RestBaseline(rest_s) if rest_s else None
        self.baseline = baseline
        self._user_paused = False
        self._pause_marked = False  # the current pause has its ``pause`` marker
        self.markers: list[Marker] = []
        self.last: SessionStep | None = None
        self.done = False
        self._lock = threading.RLock()
        self._step_listeners: list[Callable[[SessionStep], object]] = []
        self._done_listeners: list[Callable[[FeedbackSummary], object]] = []
        self._marker_listeners: list[Callable[[Marker], object]] = []
        self._attached = False
        self._cold_asked = False

    def _go_cold(self) -> None:
        """Without a rest: the stream's model in cold mode, whatever an earlier session left."""
        if self.rest is None and self.baseline is not None and not self._cold_asked:
            self._cold_asked = True
            with contextlib.suppress(NeurofbError):  # a band-power target: no modes at all
                self.baseline.request_baseline(None)

    # -- listeners and control -----------------------------------------------------------
    def add_step_listener(self, callback: Callable[[SessionStep], object]) -> None:
        """Call ``callback(step)`` with every :class:`SessionStep`."""
        self._step_listeners.append(callback)

    def add_marker_listener(self, callback: Callable[[Marker], object]) -> None:
        """Call ``callback(marker)`` with every marker the session makes, as it makes it: those
        of its steps, and those of Skip, End session and the timer, which come outside a step
        (the session's block ends, ``baseline:skipped``). Keep it quick (a queue put)."""
        self._marker_listeners.append(callback)

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
            self._go_cold()
            if not self._attached:
                self.runner.add_update_listener(self.feed)
                self._attached = True

    @property
    def paused(self) -> bool:
        """Whether the user paused the session."""
        return self._user_paused

    @property
    def resting(self) -> bool:
        """Whether the session is in its rest baseline (the exercise has not started)."""
        return self.rest is not None and not self.rest.done

    def pause(self) -> None:
        """Pause: no rewards, the exercise clock stops, calibration blocks close.

        The session marks it (``pause``, at the last update's time), so a recording shows the
        paused stretch. (The rest baseline keeps going: the baseline is the stream's next
        seconds.)
        """
        with self._lock:
            if self._user_paused or self.done:
                return
            self._user_paused = True
            self.controller.pause()
            self._pause_marked = self._mark_now("pause")

    def resume(self) -> None:
        """Resume after :meth:`pause` (marked ``resume``, at the last update's time)."""
        with self._lock:
            if not self._user_paused or self.done:
                return
            self._user_paused = False
            if not self.resting:
                self.controller.resume()
            if self._pause_marked:
                self._mark_now("resume")

    def _mark_now(self, kind: str) -> bool:
        """Emit a ``kind`` marker at the last update's stream time; False before the first
        update (nothing to mark: the session has not begun)."""
        if self.last is None:
            return False
        self._emit((Marker(self.last.update.t, kind),))
        return True

    def skip_rest(self) -> None:
        """Skip the rest baseline: the stream goes back to cold mode and the exercise starts."""
        with self._lock:
            if not self.resting or self.rest is None or self.baseline is None:
                return
            self._emit(self.rest.skip())
            self.baseline.request_baseline(None)
            if not self._user_paused:
                self.controller.resume()

    def set_target_rate(self, target_rate: float) -> None:
        """Change the target on-target fraction of the adaptive threshold, in (0, 1)."""
        with self._lock:
            self.controller.set_target_rate(target_rate)

    # -- stepping ------------------------------------------------------------------------
    def _rest_step(self, update: Update) -> SessionStep:
        """One update of the rest baseline (the reward logic paused)."""
        rest, baseline = self.rest, self.baseline
        if rest is None or baseline is None:
            raise ValueError("this session has no rest baseline")
        if rest.start_t is None:  # the session starts: a new baseline from now
            self.controller.pause()
            try:
                rest.after_t = baseline.request_baseline(rest.rest_s)
            except NeurofbError:  # a band-power target: no baseline mode, start at once
                view = rest.step(update)
                markers = (*view.markers, *rest.skip(update.t, state="unavailable"))
                self._emit(markers)
                if not self._user_paused:
                    self.controller.resume()
                return SessionStep(update=update, feedback=self.controller.step(update),
                                   view=rest.view or view, markers=markers)
        feedback = self.controller.step(update)
        view = rest.step(update)
        self._emit(view.markers)
        if view.done and rest.state == "failed":  # given up on (timed out): the stream must
            with contextlib.suppress(NeurofbError):  # not take it later, as the session runs
                baseline.request_baseline(None)  # and is summarised cold
        if view.done and not self._user_paused:
            self.controller.resume()
        return SessionStep(update=update, feedback=feedback, view=view, markers=view.markers)

    def feed(self, update: Update) -> SessionStep | None:
        """Process one pipeline update; return its step (None once the session has ended)."""
        with self._lock:
            if self.done:
                return None
            self._go_cold()
            if self.resting:
                step = self._rest_step(update)
                self.last = step
            else:
                step = self._exercise_step(update)
            listeners = list(self._step_listeners)
        for cb in listeners:
            cb(step)
        if step.view.done and isinstance(step.view, ExerciseView):
            self.finish()
        return step

    def _exercise_step(self, update: Update) -> SessionStep:
        """One update of the exercise."""
        feedback = self.controller.step(update)
        view = self.exercise.step(feedback)
        markers = tuple(sorted((*feedback.events, *view.markers), key=lambda m: m.t))
        self._emit(markers)
        step = SessionStep(update=update, feedback=feedback, view=view, markers=markers)
        self.last = step
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
            if self.resting and self.rest is not None:
                asked = self.rest.start_t is not None  # the stream is taking this rest
                self._emit(self.rest.skip(t))
                if asked and self.baseline is not None:  # ended during the rest: nothing of it
                    with contextlib.suppress(NeurofbError):  # becomes a baseline; back to cold
                        self.baseline.request_baseline(None)
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
            for cb in self._marker_listeners:
                cb(m)

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
