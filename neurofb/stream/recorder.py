"""Record a running stream into a new recording folder, and index it when it ends.

A :class:`StreamRecorder` is a listener of a :class:`~neurofb.stream.runner.StreamRunner`: it
writes chunks, updates and markers into a :class:`~neurofb.recording.writer.RecordingWriter`.
It may be attached to a stream that started earlier (the app records each practice session,
not the whole connection): the first chunk it writes sets the recording's time origin, and the
stream times of later updates and markers are re-based on it, so the recording's markers and
trace line up with its own samples.

:meth:`StreamRecorder.finish` closes the recording and adds it to the session library at once:
every recording is in the library as soon as it ends.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from neurofb.errors import LibraryError, RecordingError
from neurofb.library import elsewhere
from neurofb.library.index import SessionLibrary
from neurofb.library.summary import SessionSummary, summarise_recording
from neurofb.recording.base import EEG
from neurofb.recording.folder import read_folder
from neurofb.recording.writer import RecordingWriter, new_recording_path
from neurofb.types import Chunk, Marker, SourceInfo, Update

__all__ = ["FinishedRecording", "StreamRecorder"]

log = logging.getLogger(__name__)


class SupportsListeners(Protocol):
    """What a recorder needs of a runner (:class:`~neurofb.stream.runner.StreamRunner`)."""

    def add_chunk_listener(self, callback: Callable[[Chunk], object]) -> None: ...

    def add_update_listener(self, callback: Callable[[Update], object]) -> None: ...

    def add_marker_listener(self, callback: Callable[[Marker], object]) -> None: ...

    def remove_listener(self, callback: Callable[[Any], object]) -> None: ...


@dataclass(frozen=True)
class FinishedRecording:
    """A closed recording and its place in the library.

    Parameters
    ----------
    path : Path
        The recording folder.
    summary : SessionSummary or None
        What was stored in the library (None when indexing failed).
    library_id : int or None
        The session's id in the library.
    problem : str
        What went wrong (recording stopped by a full disk, library not writable), or "".
    """

    path: Path
    summary: SessionSummary | None
    library_id: int | None
    problem: str = ""


class StreamRecorder:
    """Write a stream into a new recording folder, from the first chunk it receives.

    Parameters
    ----------
    info : SourceInfo
        The stream's channels, sampling rate and source.
    path : path-like, optional
        Folder to create (it must not exist); default a new folder under
        ``<data dir>/recordings`` named after the time and ``label``.
    label : str
        Suffix of the default folder name (board, exercise).
    meta : mapping, optional
        Extra meta.json fields (``user``, ``exercise``, ``target``, ``model``, …).
    on_error : callable, optional
        Called with a message (on the writer's thread) when writing fails (disk full).

    Raises
    ------
    RecordingError
        The folder exists or cannot be created.
    """

    def __init__(
        self,
        info: SourceInfo,
        *,
        path: str | os.PathLike | None = None,
        label: str = "",
        meta: Mapping[str, Any] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        target = Path(path) if path is not None else new_recording_path(label=label)
        # outside the data folder: where a crash recovery must look, noted before the folder
        # is made (a kill while it is being set up leaves nothing recovery cannot find)
        elsewhere.note(target)
        try:
            self.writer = RecordingWriter(target, info, meta=dict(meta or {}), on_error=on_error,
                                          unique=path is None)
        except ValueError as err:
            _forget_unless_written(target)
            raise RecordingError(f"cannot record {info.board}: {err}") from None
        except BaseException:
            _forget_unless_written(target)
            raise
        if self.writer.path != target:  # a name taken meanwhile: the writer picked the next
            _forget_unless_written(target)
            elsewhere.note(self.writer.path)
        self.t0: float | None = None
        self._lock = threading.Lock()
        self._runner: SupportsListeners | None = None

    @property
    def path(self) -> Path:
        """The recording folder."""
        return Path(self.writer.path)

    @property
    def error(self) -> str | None:
        """Why the recording stopped (disk full, unwritable), or None."""
        return self.writer.error

    @property
    def n_samples(self) -> int:
        """Samples written so far."""
        return self.writer.n_samples

    # -- listeners (the runner's thread) ------------------------------------------------------

    def write_chunk(self, chunk: Chunk) -> None:
        """Write samples; the first chunk fixes the time origin."""
        with self._lock:
            if self.t0 is None:
                self.t0 = chunk.first_sample / chunk.sfreq
        self.writer.write_chunk(chunk)

    def write_update(self, update: Update) -> None:
        """Write a pipeline update, re-timed to the recording (none from before it began)."""
        t0 = self.t0
        if t0 is None or update.t < t0:
            return
        self.writer.write_update(replace(update, t=update.t - t0) if t0 else update)

    def write_marker(self, marker: Marker) -> None:
        """Write a marker, re-timed to the recording (markers before its start at 0)."""
        t0 = self.t0 or 0.0
        self.writer.write_marker(replace(marker, t=max(marker.t - t0, 0.0)) if t0 else marker)

    # -- wiring ---------------------------------------------------------------------------------

    def attach(self, runner: SupportsListeners) -> None:
        """Start receiving the runner's chunks, updates and markers."""
        if self._runner is not None:
            raise RuntimeError("this recorder is already attached to a stream")
        self._runner = runner
        runner.add_chunk_listener(self.write_chunk)
        runner.add_update_listener(self.write_update)
        runner.add_marker_listener(self.write_marker)

    def detach(self) -> None:
        """Stop receiving from the runner (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            for callback in (self.write_chunk, self.write_update, self.write_marker):
                runner.remove_listener(callback)

    def _holds_a_sample(self) -> bool:
        try:
            return (self.path / EEG).stat().st_size >= self.writer.row_bytes
        except OSError:
            return False

    def discard_if_empty(self) -> bool:
        """Close and delete the folder when no sample was ever written; return whether it was."""
        self.detach()
        self.writer.close()
        if self.writer.n_samples:
            return False
        self._remove()
        return True

    def _remove(self) -> None:
        """Delete the folder, and its note when it is kept outside the data folder (a kept
        recording keeps its note: a rebuilt session database finds it by the note)."""
        shutil.rmtree(self.path, ignore_errors=True)
        if not self.path.exists():
            elsewhere.forget(self.path)

    def finish(
        self,
        summary: SessionSummary | None = None,
        *,
        library_path: str | os.PathLike | None = None,
    ) -> FinishedRecording:
        """Detach, close the recording (meta.json with ``summary``) and add it to the library.

        Parameters
        ----------
        summary : SessionSummary, optional
            The session's summary (the app's practice session makes one); default computed
            from the recording's trace and markers.
        library_path : path-like, optional
            Session database; default ``<data dir>/sessions.sqlite3``.

        Returns
        -------
        FinishedRecording
            Never raises for a full disk or an unwritable library: ``problem`` says so. A
            recording that holds no sample on disk is removed (``summary`` None).
        """
        self.detach()
        problem = ""
        if summary is None:
            try:
                self.writer.flush()
                summary = summarise_recording(read_folder(self.path), closing=True)
            except (OSError, RecordingError) as err:
                problem = f"no session summary: {err}"
        self.writer.close(summary=None if summary is None else summary.to_dict())
        problem = _join(self.writer.error or "", problem)
        if not self._holds_a_sample():  # e.g. the disk was full from the start: keep no shell
            self._remove()
            return FinishedRecording(self.path, None, None, _join(
                problem, f"No sample reached the disk: nothing was kept in {self.path}."))
        if summary is None:
            return FinishedRecording(self.path, None, None, problem)
        row = replace(summary, recording_path=str(self.path.resolve()))
        try:
            with SessionLibrary(library_path) as lib:
                library_id = lib.add_session(row)
        except LibraryError as err:
            log.warning("session not added to the library: %s", err)
            return FinishedRecording(self.path, row, None,
                                     _join(problem, f"Session not added to the library: {err}"))
        return FinishedRecording(self.path, row, library_id, problem)


def _forget_unless_written(target: Path) -> None:
    """Remove the crash-recovery note of ``target`` this recorder made, unless another process
    is recording there: the note is then that recording's (the same path, refused here)."""
    from neurofb.recording.interrupted import is_being_written

    if not is_being_written(target):
        elsewhere.forget(target)


def _join(first: str, second: str) -> str:
    return f"{first} {second}" if first else second
