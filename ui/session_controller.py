"""Run one training session from the app: recorder, engine session, library entry.

The engine's :class:`neurofb.session.TrainingSession` holds the reward rules and the exercise;
this module wires it to the running stream, to a :class:`neurofb.recording.RecordingWriter`
(every session is recorded by default) and, when the session ends, closes the recording on a
worker thread and adds the session's summary to the :class:`neurofb.library.SessionLibrary`.
Steps of the session reach the views as queued signals.

A session starts while the stream is already running, so the recording starts mid-stream.
:class:`AlignedRecorder` re-bases the stream times of updates and markers on the recording's
first sample, so the recording's markers and trace line up with its own samples (what
personalisation reads back).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from neurofb.errors import LibraryError, NeurofbError, RecordingError
from neurofb_ui.qt_bridge import Task, start_task

log = logging.getLogger(__name__)


class AlignedRecorder:
    """A :class:`~neurofb.recording.RecordingWriter` fed by a stream that started earlier.

    The first chunk written sets ``t0`` (its first sample's stream time); updates and markers
    are written with ``t - t0``. Updates of windows that end before the recording began are not
    written; markers made before the first chunk are written at 0.
    """

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.t0: float | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The recording folder."""
        return Path(self.writer.path)

    @property
    def error(self) -> str | None:
        """The writer's error (disk full, unwritable), or None."""
        return self.writer.error

    def write_chunk(self, chunk: Any) -> None:
        """Write samples; the first chunk fixes the time origin."""
        with self._lock:
            if self.t0 is None:
                self.t0 = chunk.first_sample / chunk.sfreq
        self.writer.write_chunk(chunk)

    def write_update(self, update: Any) -> None:
        """Write a pipeline update, re-timed to the recording."""
        t0 = self.t0
        if t0 is None or update.t < t0:
            return
        self.writer.write_update(replace(update, t=update.t - t0))

    def write_marker(self, marker: Any) -> None:
        """Write a marker, re-timed to the recording."""
        t0 = self.t0 or 0.0
        self.writer.write_marker(replace(marker, t=max(marker.t - t0, 0.0)))

    def close(self, summary: dict | None = None) -> None:
        """Close the recording (finalise meta.json)."""
        self.writer.close(summary=summary)


@dataclass(frozen=True)
class SessionResult:
    """What a finished session left: the engine's summaries, the recording and library row."""

    exercise: str
    feedback: Any  # neurofb.feedback.FeedbackSummary
    summary: Any  # neurofb.library_summary.SessionSummary
    recording: str | None
    library_id: int | None
    problem: str = ""


def model_fields(target: str, model_dir: str) -> dict[str, str]:
    """``model`` and ``model_hash`` of the library row for a feedback target.

    Reads only the model card (model.json), never the weights, so it is quick enough for the
    GUI thread.
    """
    if target != "model":
        return {"model": target, "model_hash": ""}
    try:
        meta = json.loads((Path(model_dir) / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"model": Path(model_dir).name, "model_hash": ""}
    weights = meta.get("weights") if isinstance(meta, dict) else None
    digest = str(weights.get("sha256", "")) if isinstance(weights, dict) else ""
    return {"model": Path(model_dir).name, "model_hash": digest}


def _finalise(recorder: AlignedRecorder | None, summary: Any, library_path: str | None) -> tuple:
    """Close the recording and index the session (runs on a worker thread)."""
    from neurofb.library import SessionLibrary

    problem = ""
    rec_path = None
    if recorder is not None:
        recorder.close(summary=summary.to_dict())
        rec_path = str(recorder.path.resolve())
        if recorder.error:
            problem = recorder.error
        summary = replace(summary, recording_path=rec_path)
    lib_id = None
    try:
        lib = SessionLibrary(library_path)
        try:
            lib_id = lib.add_session(summary)
        finally:
            lib.close()
    except LibraryError as err:
        problem = (problem + " " if problem else "") + f"Session not added to the library: {err}"
    return summary, rec_path, lib_id, problem


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
        self.recorder: AlignedRecorder | None = None
        self.runner: Any = None
        self.library_path = library_path
        self.started_at = ""
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
              target: str, model_dir: str, record: bool = True) -> None:
        """Start ``exercise`` on the stream ``opened`` (a :class:`neurofb_ui.stream.OpenedStream`).

        Raises
        ------
        RuntimeError
            When a session already runs.
        """
        from neurofb.feedback import RewardConfig
        from neurofb.recording import RecordingWriter, new_recording_path
        from neurofb.session import TrainingSession

        if self.session is not None:
            raise RuntimeError("a session is already running; end it first")
        runner = opened.runner
        self.started_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        fields = model_fields(target if opened.estimator_name == target else
                              opened.estimator_name, model_dir)
        self.meta = {"user": user, "board": opened.info.board, **fields}
        self.recorder = None
        if record:
            path = new_recording_path(label=f"{exercise.name}-{opened.info.board}")
            try:
                writer = RecordingWriter(
                    path, opened.info,
                    meta={"user": user, "exercise": exercise.name, "target": target, **fields},
                    on_error=self._rec_error.emit,
                )
            except (RecordingError, ValueError) as err:
                self.problem.emit(f"Not recording this session: {err}")
            else:
                self.recorder = AlignedRecorder(writer)
                runner.add_chunk_listener(self.recorder.write_chunk)
                runner.add_update_listener(self.recorder.write_update)
                runner.add_marker_listener(self.recorder.write_marker)
        session = TrainingSession(runner, exercise, RewardConfig(target_rate=reward_rate),
                                  recorder=self.recorder)
        session.add_step_listener(self.step.emit)
        session.add_done_listener(self._done.emit)
        self.session = session
        self.runner = runner
        self.finishing = False
        session.start()

    def pause(self) -> None:
        """Pause the session (no rewards; the exercise clock stops)."""
        if self.session is not None:
            self.session.pause()

    def resume(self) -> None:
        """Resume a paused session."""
        if self.session is not None:
            self.session.resume()

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
        session, recorder, runner = self.session, self.recorder, self.runner
        if session is None or self.finishing:
            return
        self.finishing = True
        if recorder is not None and runner is not None:
            for cb in (recorder.write_chunk, recorder.write_update, recorder.write_marker):
                runner.remove_listener(cb)
        summary = session.session_summary(started_at=self.started_at, **self.meta)

        def finished(result: tuple) -> None:
            row, rec_path, lib_id, problem = result
            self.session = self.recorder = self.runner = None
            self.finishing = False
            if problem:
                self.problem.emit(problem)
            self.finished.emit(SessionResult(session.exercise.name, feedback, row, rec_path,
                                             lib_id, problem))

        def failed(message: str) -> None:
            self.session = self.recorder = self.runner = None
            self.finishing = False
            self.problem.emit(f"Could not save the session: {message}")

        if wait:
            try:
                finished(_finalise(recorder, summary, self.library_path))
            except (NeurofbError, OSError) as err:
                failed(str(err))
        else:
            start_task(Task(_finalise, recorder, summary, self.library_path,
                            on_done=finished, on_error=failed))
