"""Run one practice session from the app: the engine's session, recorded and indexed.

The engine's :class:`neurofb.practice.session.PracticeSession` holds the reward rules and the
exercise; a :class:`neurofb.stream.recorder.StreamRecorder` records it (every session is
recorded by default) and, when it ends, closes the recording and adds it to the session library
on a worker thread. Steps of the session reach the views as queued signals. This module only
wires engine objects to Qt.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from neurofb.errors import NeurofbError, RecordingError
from neurofb.focus.card import read_card
from neurofb.practice.exercise import TIME_EPS_S
from neurofb_ui.qt_bridge import Task, start_task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionResult:
    """What a finished session left: the engine's summaries, the recording and library row."""

    exercise: str
    feedback: Any  # neurofb.practice.reward.FeedbackSummary
    summary: Any  # neurofb.library.summary.SessionSummary
    recording: str | None
    library_id: int | None
    problem: str = ""
    #: False: the session ended before any exercise time (during the rest baseline), or a
    #: calibration before its first block was complete, and neither its recording nor a library
    #: row was kept.
    kept: bool = True
    #: How focus was estimated: the model's mode and why (see :func:`feedback_mode`).
    mode: str = ""


def feedback_mode(target: str, rest: Any) -> str:
    """How a session's focus was estimated, for its summary: the focus model in baseline mode
    (its rest taken) or cold mode (and why), or a band-power target.

    ``rest`` is the session's :class:`neurofb.practice.rest.RestBaseline` (None: no rest asked).
    """
    if target != "model":
        return f"{target} (a band-power target: no rest baseline)"
    state = getattr(rest, "state", None)
    return {
        None: "cold mode (no rest at the start)",
        "taken": "baseline mode (the rest was taken)",
        "skipped": "cold mode (the rest was skipped)",
        "failed": "cold mode (too little clean signal in the rest)",
        "unavailable": "cold mode (this model has no baseline mode)",
    }.get(state, f"cold mode (rest {state})")


def model_fields(target: str, model_dir: str) -> dict[str, str]:
    """``model`` and ``model_hash`` of the library row for a feedback target.

    Reads only the model card (model.json), never the weights, so it is quick enough for the
    GUI thread.
    """
    if target != "model":
        return {"model": target, "model_hash": ""}
    try:
        card = read_card(model_dir)
    except NeurofbError:
        return {"model": Path(model_dir).name, "model_hash": ""}
    return {"model": Path(model_dir).name, "model_hash": card.weights_sha256}


def worth_keeping(exercise: Any, feedback: Any) -> bool:
    """Whether a finished session is kept: it had exercise time (not only its rest baseline)
    and, for a calibration, a complete block (a recording without one labels nothing)."""
    blocks = [p for p in getattr(exercise, "phases", ()) if p.kind != "ready"]
    return feedback.duration_s > 0 and (
        not blocks or exercise.elapsed_s >= blocks[0].end_s - TIME_EPS_S)


def _discard(recorder: Any) -> tuple:
    """Close and delete the recording of a session not kept (worker thread)."""
    if recorder is not None:
        recorder.writer.close()
        shutil.rmtree(recorder.path, ignore_errors=True)
    return None, None, None, ""


def _finish(recorder: Any, summary: Any, library_path: str | None) -> tuple:
    """Close the recording and index the session (runs on a worker thread)."""
    if recorder is None:
        from neurofb.errors import LibraryError
        from neurofb.library.index import SessionLibrary

        try:
            with SessionLibrary(library_path) as lib:
                return summary, None, lib.add_session(summary), ""
        except LibraryError as err:
            return summary, None, None, f"Session not added to the library: {err}"
    done = recorder.finish(summary, library_path=library_path)
    return done.summary or summary, str(done.path.resolve()), done.library_id, done.problem


class SessionController(QObject):
    """Start, pause, resume and end a training session on the running stream.

    Signals
    -------
    step(SessionStep)
        Every pipeline update of the session (exercise view, feedback state, markers).
    finished(SessionResult)
        The session ended and its recording is closed and indexed.
    problem(str)
        Something to show in the window (recording stopped: disk full, ...).
    """

    step = pyqtSignal(object)
    finished = pyqtSignal(object)
    problem = pyqtSignal(str)
    _done = pyqtSignal(object)
    _rec_error = pyqtSignal(str)

    def __init__(self, parent: QObject | None = None, *, library_path: str | None = None) -> None:
        super().__init__(parent)
        self.session: Any = None
        self.recorder: Any = None  # neurofb.stream.recorder.StreamRecorder
        self.runner: Any = None
        self.library_path = library_path
        self.started_at = ""
        self.target = ""  # the feedback target of the running session
        self.meta: dict[str, str] = {}
        self.finishing = False
        self._wait = False
        self._done.connect(self._on_done)
        self._rec_error.connect(lambda msg: self.problem.emit(msg))

    @property
    def active(self) -> bool:
        """Whether a session runs (or is being finalised)."""
        return self.session is not None

    def start(self, opened: Any, exercise: Any, *, reward_rate: float, user: str,
              record: bool = True, rest_s: float = 0.0) -> None:
        """Start ``exercise`` on the stream ``opened`` (a :class:`neurofb_ui.stream.OpenedStream`).

        The session is recorded with the feedback target and model the stream uses (a target
        changed in Settings since it connected applies from the next connection).

        With ``rest_s``, the engine's session first takes a rest baseline of that many seconds
        (:class:`neurofb.practice.rest.RestBaseline`; cold mode if the target has none).

        Raises
        ------
        RuntimeError
            When a session already runs.
        """
        from neurofb.practice.reward import RewardConfig
        from neurofb.practice.session import PracticeSession
        from neurofb.stream.recorder import StreamRecorder

        if self.session is not None:
            raise RuntimeError("a session is already running; end it first")
        runner = opened.runner
        self.started_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        target = opened.estimator_name
        self.target = target
        fields = model_fields(target, opened.model_dir or "")
        self.meta = {"user": user, "board": opened.info.board, **fields}
        replayed = getattr(getattr(opened, "source", None), "recording", None)
        if replayed is not None and not opened.info.live:  # not this person's live EEG
            name = Path(getattr(replayed, "path", "") or "a recording").name
            self.meta["notes"] = f"practised on a replay of {name}, not on a live headset"
        elif opened.info.simulated:  # BrainFlow's synthetic board: sines, not anyone's EEG
            self.meta["notes"] = ("practised on BrainFlow's synthetic board (a simulated "
                                  "signal), not on a live headset")
        self.recorder = None
        if record:
            try:
                self.recorder = StreamRecorder(
                    opened.info, label=f"{exercise.name}-{opened.info.board}",
                    meta={"user": user, "exercise": exercise.name, "target": target, **fields,
                          # a crash-recovered session keeps its note too
                          **({"notes": self.meta["notes"]} if "notes" in self.meta else {})},
                    on_error=self._rec_error.emit,
                )  # fmt: skip
            except RecordingError as err:
                self.problem.emit(f"Not recording this session: {err}")
            else:
                self.recorder.attach(runner)
        session = PracticeSession(runner, exercise, RewardConfig(target_rate=reward_rate),
                                  recorder=self.recorder, rest_s=rest_s,
                                  baseline=opened)
        session.add_step_listener(self.step.emit)
        follow = getattr(opened, "follow", None)
        if callable(follow):
            follow(session)  # LSL/OSC outputs send the reward state and session markers
        session.add_done_listener(self._done.emit)
        self.session = session
        self.runner = runner
        self.finishing = False
        session.start()

    def skip_rest(self) -> Any:
        """Skip the rest baseline (the session runs in cold mode); return the rest's last view
        (:class:`neurofb.practice.rest.RestView`, which says it was skipped), or None."""
        if self.session is None or self.session.rest is None:
            return None
        self.session.skip_rest()
        return self.session.rest.view

    def pause(self) -> None:
        """Pause the session (no rewards; the exercise clock stops)."""
        if self.session is not None:
            self.session.pause()

    def resume(self) -> None:
        """Resume a paused session."""
        if self.session is not None:
            self.session.resume()

    def set_reward_rate(self, rate: float) -> None:
        """Aim the running session's adaptive threshold at a new reward rate (a fraction), from
        its next update on."""
        if self.session is not None:
            self.session.set_target_rate(rate)

    @property
    def resting(self) -> bool:
        """Whether the session is in its rest baseline."""
        return self.session is not None and self.session.resting

    @property
    def paused(self) -> bool:
        """Whether the session is paused."""
        return self.session is not None and self.session.paused

    def end(self, *, wait: bool = False) -> None:
        """End the session now (its summary and recording follow through ``finished``).

        With ``wait`` the recording is closed and indexed before this returns (used when the
        window closes).
        """
        if self.session is None:
            return
        self._wait = wait
        try:
            summary = self.session.finish()
            if wait:
                self._on_done(summary)
        finally:
            self._wait = False

    def _on_done(self, feedback: Any) -> None:
        wait = self._wait
        session, recorder = self.session, self.recorder
        if session is None or self.finishing:
            return
        self.finishing = True
        if recorder is not None:
            recorder.detach()
        summary = session.session_summary(started_at=self.started_at, **self.meta)
        kept = worth_keeping(session.exercise, feedback)

        def finished(result: tuple) -> None:
            row, rec_path, lib_id, problem = result
            self.session = self.recorder = self.runner = None
            self.finishing = False
            if problem:
                self.problem.emit(problem)
            self.finished.emit(SessionResult(session.exercise.name, feedback, row or summary,
                                             rec_path, lib_id, problem, kept,
                                             feedback_mode(self.target, session.rest)))

        def failed(message: str) -> None:
            self.session = self.recorder = self.runner = None
            self.finishing = False
            self.problem.emit(f"Could not save the session: {message}")

        work = (functools.partial(_finish, recorder, summary, self.library_path) if kept
                else functools.partial(_discard, recorder))
        if wait:
            try:
                finished(work())
            except (NeurofbError, OSError) as err:
                failed(str(err))
        else:
            start_task(Task(work, on_done=finished, on_error=failed))
