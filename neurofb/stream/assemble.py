"""One way to assemble a stream: a frozen request in, an opened stream out.

The CLI (``neurofb stream``, ``neurofb replay``), the app and the benchmarks all call
:func:`open_stream`; nothing else wires source → estimator → pipeline → runner → trace and
recorder together::

    request = StreamRequest(BoardRequest("synthetic"), record=RecordRequest(), trace_path="t.csv")
    stream = open_stream(request)   # built, not started: BoardError/ModelError/ChannelError here
    stream.start()                  # the runner's thread streams; or stream.run() on this one
    ...
    result = stream.close()         # trace closed, recording finalised and in the library

The focus target is decided here, once: the attention model (the shipped default unless
``model_dir`` names another), or a band-power target. When the model cannot serve the stream
(too few known electrodes, too low a sampling rate, files missing or damaged), the request's
``fallback`` target is used instead and :attr:`OpenedStream.warning` says why; without a
``fallback`` that is an error. The CLI asks for a fallback only when the user named neither a
target nor a model (what the user named is never silently replaced); the app always does, and
shows the warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neurofb import paths
from neurofb.config import EngineConfig
from neurofb.errors import ChannelError, ModelError, NeurofbError, RecordingError, SettingsError
from neurofb.outputs.lsl_out import LslOutRequest
from neurofb.outputs.osc import OscRequest
from neurofb.stream.markers_in import MarkersInRequest
from neurofb.types import SourceInfo, Update

# The pipeline, the estimators, the recorder and the library are imported where they are used:
# open_stream starts a live board after importing no more than BrainFlow, and the board fills
# its first window while they load.
if TYPE_CHECKING:
    from neurofb.focus.base import Estimator
    from neurofb.library.summary import SessionSummary
    from neurofb.outputs.base import SupportsSteps
    from neurofb.outputs.clock import StreamClock
    from neurofb.outputs.lsl_out import LslOutput
    from neurofb.outputs.osc import OscOutput
    from neurofb.recording.base import Recording
    from neurofb.recording.trace import TraceWriter
    from neurofb.stream.markers_in import MarkersIn
    from neurofb.stream.pipeline import Pipeline
    from neurofb.stream.recorder import FinishedRecording, StreamRecorder
    from neurofb.stream.runner import StreamRunner
    from neurofb.stream.source import Source

__all__ = [
    "BoardRequest",
    "ClosedStream",
    "LslOutRequest",
    "LslRequest",
    "MarkersInRequest",
    "OpenedStream",
    "OscRequest",
    "RecordRequest",
    "ReplayRequest",
    "StreamRequest",
    "check_outputs",
    "input_paths",
    "make_source",
    "open_stream",
    "replay",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoardRequest:
    """A BrainFlow board to stream from.

    Parameters
    ----------
    name : str
        Board name (:func:`neurofb.boards.board_names`) or id.
    connection : mapping
        :func:`neurofb.stream.brainflow.open_board` keyword arguments (``serial_port``,
        ``mac_address``, ``file``, ``master_board``, ``timeout``, …).
    """

    name: str = "synthetic"
    connection: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A short name for file names and messages."""
        return self.name


@dataclass(frozen=True)
class ReplayRequest:
    """A recording to play through the pipeline.

    Parameters
    ----------
    recording : str, path-like or Recording
        A neurofb recording folder or a file :func:`neurofb.recording.formats.open_recording`
        reads, or a recording already opened.
    speed : float or None
        1.0 for real time, N for N× real time, None for as fast as possible.
    loop : bool
        Start again at the end.
    seek_s : float
        Start this many seconds into the recording.
    seconds : float, optional
        Stop after this many seconds of recording.
    stream, montage, unit, board : str, optional
        For files that need them (:func:`neurofb.recording.formats.open_recording`): the
        stream of an XDF file, channel names for a file that has none, its amplitude unit,
        the BrainFlow board that wrote a BrainFlow CSV.
    markers : bool
        Send the recording's own markers (blocks, rewards, notes) to the stream's marker
        listeners — the LSL and OSC outputs — at the samples they fell on (``neurofb replay``;
        the app leaves it off: its sessions make and record markers of their own).
    """

    recording: str | os.PathLike | Recording
    speed: float | None = 1.0
    loop: bool = False
    seek_s: float = 0.0
    seconds: float | None = None
    stream: str | None = None
    montage: str | None = None
    unit: str = "auto"
    board: str | None = None
    markers: bool = False

    @property
    def label(self) -> str:
        """A short name for file names and messages."""
        from neurofb.recording.base import Recording

        rec = self.recording
        path = rec.path if isinstance(rec, Recording) else Path(rec)
        return (path.name.split(".")[0] if path is not None else "") or "replay"


@dataclass(frozen=True)
class LslRequest:
    """An LSL EEG stream to read (:class:`neurofb.stream.lsl_source.LslSource`).

    Parameters
    ----------
    name, stype, source_id : str, optional
        Which stream (all given must match); default the first stream of type ``EEG``.
    montage : str, optional
        Channel names for a stream that has none (``cyton``, ``muse``, ``Fz,Cz,…``).
    unit : str
        Unit of a stream that gives none: ``"auto"`` (guessed, with a warning), ``"uV"``,
        ``"mV"`` or ``"V"``.
    timeout_s : float
        Seconds to look for the stream.
    """

    name: str | None = None
    stype: str | None = None
    source_id: str | None = None
    montage: str | None = None
    unit: str = "auto"
    timeout_s: float = 5.0

    @property
    def label(self) -> str:
        """A short name for file names and messages."""
        return f"lsl-{self.name or self.stype or 'EEG'}"


SourceRequest = BoardRequest | ReplayRequest | LslRequest


#: The note of a recording of BrainFlow's synthetic board: no one's EEG.
SIMULATED_NOTE = "recorded from BrainFlow's synthetic board (a simulated signal), not a headset"


@dataclass(frozen=True)
class RecordRequest:
    """Record the stream into a new folder (every recording is indexed when it ends).

    Parameters
    ----------
    path : str, optional
        Folder to create; default a new folder under ``<data dir>/recordings``.
    meta : mapping
        Extra meta.json fields (``user``, ``exercise``, …).
    """

    path: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamRequest:
    """Everything needed to open a stream.

    Parameters
    ----------
    source : BoardRequest or ReplayRequest
        Where the samples come from.
    target : str, optional
        What focus means (:data:`neurofb.focus.targets.TARGETS`); default the attention model.
    model_dir : str, optional
        Attention model folder; default the shipped model.
    config : EngineConfig
        Window, hop, filters, smoothing and gating.
    fallback : str, optional
        Target to use when the attention model cannot serve this stream (reported in
        :attr:`OpenedStream.warning`); None makes that an error.
    record : RecordRequest, optional
        Record the stream.
    trace_path : str, optional
        Write the focus trace CSV here (a new file, in a folder that exists).
    stall_s : float
        Seconds without samples before the runner reconnects.
    overwrite : bool
        Replace an existing file at ``trace_path`` (``--force``). Never allows writing into
        one of the stream's inputs (the recording replayed, the playback file, the model).
    lsl_out : LslOutRequest, optional
        Publish focus, markers (and the filtered EEG) as LSL streams.
    osc_out : tuple of OscRequest
        Send focus, quality, band powers and rewards as OSC to each of these receivers.
    markers_in : MarkersInRequest, optional
        Take markers from another program (an LSL marker stream, or UDP on 127.0.0.1).
    """

    source: SourceRequest
    target: str | None = None
    model_dir: str | None = None
    config: EngineConfig = field(default_factory=EngineConfig)
    fallback: str | None = None
    record: RecordRequest | None = None
    trace_path: str | None = None
    stall_s: float = 2.0
    overwrite: bool = False
    lsl_out: LslOutRequest | None = None
    osc_out: tuple[OscRequest, ...] = ()
    markers_in: MarkersInRequest | None = None


@dataclass(frozen=True)
class ClosedStream:
    """What :meth:`OpenedStream.close` left.

    Parameters
    ----------
    trace_rows : int
        Rows written to the trace file (0 without one).
    recording : FinishedRecording or None
        The recording and its library entry, when the stream was recorded.
    """

    trace_rows: int = 0
    recording: FinishedRecording | None = None


class OpenedStream:
    """A stream ready to run: source, pipeline and runner, with trace and recorder attached.

    Attributes
    ----------
    request : StreamRequest
    source : Source
    info : SourceInfo
    pipeline : Pipeline
    runner : StreamRunner
    target : str
        The target in use (``"model"``, ``"engagement"``, …).
    model_dir : str or None
        The model folder in use (None for a band-power target).
    warning : str
        Why the fallback target is used instead of the model ("" when it is not).
    notes : tuple of str
        What was adapted to this source (a low-pass edge lowered for a slow sampling rate).
    recorder : StreamRecorder or None
    trace : TraceWriter or None
    recorder : StreamRecorder or None
    trace : TraceWriter or None
    """

    def __init__(
        self,
        request: StreamRequest,
        source: Source,
        pipeline: Pipeline,
        *,
        target: str,
        model_dir: str | None,
        warning: str,
    ) -> None:
        self.request = request
        self.source = source
        self.info: SourceInfo = source.info
        from neurofb.stream.runner import StreamRunner

        self.pipeline = pipeline
        self.runner: StreamRunner = StreamRunner(source, pipeline, stall_s=request.stall_s)
        self.target = target
        self.model_dir = model_dir
        self.warning = warning
        self.notes: tuple[str, ...] = tuple(getattr(pipeline, "notes", ()))
        self.trace: TraceWriter | None = None
        self.recorder: StreamRecorder | None = None
        #: Whether open_stream started the source (a live board, a paced replay).
        self.source_started = False
        self.clock: StreamClock | None = None
        #: The outputs attached (LSL, OSC), closed with the stream.
        self.outputs: list[LslOutput | OscOutput] = []
        self.markers_in: MarkersIn | None = None
        self._closed: ClosedStream | None = None

    @property
    def estimator_name(self) -> str:
        """Name of the estimator in use (``"model"``, ``"engagement"``, …)."""
        return self.pipeline.estimator_name

    def why_no_updates(self) -> str:
        """Why the stream gave no update so far, in one line ("" when it gave some).

        A window needs ``window_s`` seconds of samples before the first update.
        """
        if self.runner.updates:
            return ""
        got_s = self.runner.samples / self.info.sfreq
        window_s = self.pipeline.window_samples / self.info.sfreq
        if self.runner.samples < self.pipeline.window_samples:
            return (f"no update: {got_s:.2f} s of samples arrived, and the first update needs "
                    f"a full {window_s:g} s analysis window (use a shorter --window, or stream "
                    "longer)")
        return f"no update from {got_s:.2f} s of samples (see the errors above)"

    def start(self, *, wait: bool = True) -> None:
        """Start streaming on the runner's thread (:meth:`StreamRunner.start`).

        Raises
        ------
        BoardError
            (with ``wait``) when the device is missing or busy; an empty recording folder made
            for this stream is removed again.
        """
        try:
            self.runner.start(wait=wait)
        except NeurofbError:
            if self.recorder is not None and self.recorder.discard_if_empty():
                self.recorder = None
            raise
        if self.markers_in is not None:
            self.markers_in.start()

    def run(self) -> None:
        """Stream on this thread until the source ends (a replay) or Ctrl-C.

        Raises
        ------
        BoardError
            When the device is missing or busy.
        KeyboardInterrupt
            After the source was stopped cleanly.
        """
        if self.markers_in is not None:
            self.markers_in.start()
        self.runner.run()

    def request_baseline(self, baseline_s: float | None) -> float:
        """The attention model's baseline mode from now: the next ``baseline_s`` seconds are
        rest (None: cold mode); returns the stream time the rest starts at. See
        :meth:`neurofb.stream.pipeline.Pipeline.request_baseline`.

        Raises
        ------
        ModelError
            The stream's target has no baseline mode (a band-power target).
        """
        return self.pipeline.request_baseline(baseline_s)

    def follow(self, session: SupportsSteps) -> None:
        """Let the outputs send a practice session's reward state and markers with its steps."""
        for output in self.outputs:
            output.follow(session)

    def close(self, summary: SessionSummary | None = None) -> ClosedStream:
        """Stop, close the trace, finalise the recording and index it; idempotent.

        Parameters
        ----------
        summary : SessionSummary, optional
            Stored with the recording; default computed from its trace and markers.
        """
        if self._closed is not None:
            return self._closed
        if self.markers_in is not None:
            self.markers_in.close()
        self.runner.stop()
        if self.source_started and not self.runner.started:
            self.source.stop()  # started by open_stream, never handed to the runner
        self.pipeline.close()
        for output in self.outputs:
            output.close()
        rows = 0
        if self.trace is not None:
            self.trace.close()
            rows = self.trace.rows
        finished = None
        if self.recorder is not None:
            finished = self.recorder.finish(summary)
        self._closed = ClosedStream(rows, finished)
        return self._closed

    def __enter__(self) -> OpenedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_source(request: SourceRequest) -> Source:
    """Build (not start) the source a request names.

    Raises
    ------
    BoardError
        Unknown board, bad connection setting, missing playback file.
    RecordingError
        The recording to replay is missing or damaged.
    """
    if isinstance(request, BoardRequest):
        from neurofb.stream.brainflow import open_board

        try:
            return open_board(request.name, **dict(request.connection))
        except ValueError as err:
            from neurofb.errors import BoardError

            raise BoardError(f"bad connection setting for {request.name}: {err}") from None
    if isinstance(request, LslRequest):
        from neurofb.stream.lsl_source import LslSource

        return LslSource(name=request.name, stype=request.stype, source_id=request.source_id,
                         montage=request.montage, unit=request.unit,
                         timeout_s=request.timeout_s)  # fmt: skip
    if isinstance(request, ReplayRequest):
        from neurofb.recording.base import Recording
        from neurofb.recording.formats import open_recording
        from neurofb.stream.replay import ReplaySource

        rec = request.recording
        if not isinstance(rec, Recording):
            rec = open_recording(rec, stream=request.stream, montage=request.montage,
                                 unit=request.unit, board=request.board)  # fmt: skip
        source = ReplaySource(rec, speed=request.speed, loop=request.loop,
                              seconds=request.seconds, markers=request.markers)  # fmt: skip
        if request.seek_s:
            source.seek(request.seek_s)
        return source
    raise TypeError(f"unknown source request {request!r}")


def _estimator(request: StreamRequest) -> tuple[Estimator, str, str | None]:
    """The estimator, its target name and model folder (ModelError when it cannot load)."""
    from neurofb.focus.targets import make_estimator

    target = request.target or "model"
    if target.strip().lower() != "model":
        return make_estimator(target, baseline_s=request.config.baseline_s), target, None
    model_dir = request.model_dir or str(paths.default_model_dir())
    if request.model_dir is not None and not Path(model_dir).exists():
        raise ModelError(f"model folder {model_dir} does not exist: pass an existing model "
                         "folder with --model (or leave it out for the shipped model)")
    estimator = make_estimator("model", model_dir=model_dir,
                               model_baseline_s=request.config.model_baseline_s)
    return estimator, "model", model_dir


def starts_early(request: SourceRequest) -> bool:
    """Whether :func:`open_stream` starts this source before loading the estimator.

    Live boards and paced replays do (their first window fills meanwhile); a replay at full
    speed has nothing to wait for. An LSL stream is receiving from the moment its source is
    made (its inlet is open; with ``unit="auto"`` a second is read to guess the unit), so it
    counts as started early too: ``--seconds`` then counts from the command's start, not from
    after that second, which would be delivered on top.
    """
    return isinstance(request, BoardRequest | LslRequest) or (
        isinstance(request, ReplayRequest) and request.speed is not None)


def _pipeline(request: StreamRequest, info: SourceInfo
              ) -> tuple[Pipeline, str, str | None, str]:
    """The pipeline with the estimator the request asks for, or its fallback (and why)."""
    from neurofb.focus.targets import make_estimator
    from neurofb.stream.pipeline import Pipeline

    try:
        estimator, target, model_dir = _estimator(request)
        return Pipeline(info, estimator, request.config), target, model_dir, ""
    except (ModelError, ChannelError) as err:
        if (request.fallback is None or isinstance(err, SettingsError)
                or (request.target or "model").strip().lower() != "model"):
            raise
        warning = (f"the focus model could not load or does not fit this stream ({err}); "
                   f"using the {request.fallback} target instead")
        try:
            estimator = make_estimator(request.fallback, baseline_s=request.config.baseline_s)
            pipeline = Pipeline(info, estimator, request.config)
        except NeurofbError:  # the fallback cannot serve it either: the model's reason stands
            raise err from None
        log.info(warning)  # the caller shows it (OpenedStream.warning): not twice
        return pipeline, request.fallback, None, warning


def input_paths(request: StreamRequest) -> tuple[Path, ...]:
    """Files and folders a stream reads: nothing it writes may be, or lie inside, one of them.

    The recording replayed (and a BrainFlow CSV's sidecar), a playback board's file, and the
    model folder when the target is the attention model.
    """
    from neurofb.recording.base import Recording
    from neurofb.recording.brainflow_csv import sidecar_path

    found: list[Path] = []
    src = request.source
    if isinstance(src, ReplayRequest):
        rec = src.recording
        path = rec.path if isinstance(rec, Recording) else Path(rec)
        if path is not None:
            found.append(path)
            if path.name == "meta.json":  # a recording named by its meta.json: the folder
                found.append(path.parent)  # is what is read (eeg.bin, markers, trace)
    elif isinstance(src, BoardRequest) and src.connection.get("file"):
        found.append(Path(str(src.connection["file"])))
    found += [sidecar_path(p) for p in found if p.suffix.lower() in (".csv", ".txt", ".tsv")]
    if (request.target or "model").strip().lower() == "model":
        found.append(Path(request.model_dir) if request.model_dir is not None
                     else paths.default_model_dir())
    return tuple(found)


def check_outputs(request: StreamRequest) -> None:
    """Check the trace file and the recording folder a request asks for, creating nothing.

    :func:`open_stream` calls it first, before any device is opened or file created, so a
    refused request leaves nothing behind.

    Raises
    ------
    RecordingError
        The trace exists (without ``request.overwrite``), is a folder, or the recording folder
        exists; either is (or lies inside) one of the stream's inputs; their folder does not
        exist or is read-only.
    """
    inputs = input_paths(request)
    record_path = request.record.path if request.record is not None else None
    if record_path:
        paths.check_new_folder(record_path, inputs=inputs, what="recording folder",
                               error=RecordingError)
    if request.trace_path is not None:
        trace = Path(os.path.abspath(request.trace_path))
        if record_path and trace.is_relative_to(os.path.abspath(record_path)):
            raise RecordingError(
                f"the trace {request.trace_path} would go into the new recording folder "
                f"{record_path}, which keeps its own trace.csv; choose another trace path")
        paths.check_new_file(request.trace_path, force=request.overwrite, inputs=inputs,
                             what="trace", error=RecordingError)


def open_stream(request: StreamRequest) -> OpenedStream:
    """Open the source, load the estimator and build the pipeline, runner, trace and recorder.

    A live board or a paced replay is started first (:func:`starts_early`), so its first window
    fills while the estimator loads; its samples are buffered until the runner reads them.
    Nothing is processed yet: :meth:`OpenedStream.start` (a thread) or :meth:`OpenedStream.run`
    (this thread) does. The output paths are checked first (:func:`check_outputs`), before any
    device is opened or file created.

    Raises
    ------
    BoardError, RecordingError
        The source cannot be opened; an output path is refused.
    ModelError, ChannelError
        The target named cannot serve this stream (and no fallback applies).
    """
    check_outputs(request)
    source = make_source(request.source)
    # A live board (or a paced replay) starts now: its first window takes window_s seconds to
    # fill, and the model loads while it does. The samples wait in the source's buffer until
    # the runner reads them, so none is lost; the runner's own start() is then a no-op.
    early = starts_early(request.source)
    if early:
        source.start()
    try:
        pipeline, target, model_dir, warning = _pipeline(request, source.info)
    except BaseException:
        if early:
            source.stop()
        raise
    source_note = getattr(source, "warning", "")
    if source_note:
        warning = f"{source_note}; {warning}" if warning else source_note
    stream = OpenedStream(request, source, pipeline, target=target, model_dir=model_dir,
                          warning=warning)  # fmt: skip
    stream.source_started = early
    try:
        _attach_io(stream, request)
    except BaseException:
        stream.close()
        source.stop()  # release what making it opened (an LSL inlet)
        raise
    if request.record is not None:
        from neurofb.stream.recorder import StreamRecorder

        model = {"model": target, "model_hash": None}  # a band-power target: its name
        if stream.model_dir is not None:  # the attention model: its folder and weights' hash
            est_meta = getattr(pipeline.estimator, "meta", None) or {}
            weights = est_meta.get("weights", {})
            model = {"model": Path(stream.model_dir).name, "model_hash": weights.get("sha256")}
            personal = est_meta.get("personal")
            if isinstance(personal, dict) and personal.get("sha256"):
                # a personalised model is its heads on the parent's network: the heads' hash
                # tells two personalisations of one parent apart
                model.update(model_hash=personal["sha256"], model_parent_hash=model["model_hash"])
        meta = {"target": target, **model, **request.record.meta}
        if source.info.simulated and "notes" not in meta:  # set apart in the library
            meta["notes"] = SIMULATED_NOTE
        stream.recorder = StreamRecorder(
            source.info, path=request.record.path, label=request.source.label, meta=meta,
            on_error=stream.runner.report_error,
        )  # fmt: skip
        stream.recorder.attach(stream.runner)
    if request.trace_path is not None:
        from neurofb.recording.trace import TraceWriter

        try:
            stream.trace = TraceWriter(request.trace_path, overwrite=request.overwrite)
        except BaseException:
            if stream.recorder is not None:
                stream.recorder.discard_if_empty()
            pipeline.close()
            raise
        stream.runner.add_update_listener(stream.trace.write)
    return stream


def _attach_io(stream: OpenedStream, request: StreamRequest) -> None:
    """Attach the outputs and markers-in the request asks for (OutputError, BoardError)."""
    if request.lsl_out is None and not request.osc_out and request.markers_in is None:
        return
    from neurofb.outputs.clock import StreamClock
    from neurofb.outputs.lsl_out import LslOutput
    from neurofb.outputs.osc import OscOutput
    from neurofb.stream.lsl_source import LslSource
    from neurofb.stream.markers_in import MarkersIn

    source, pipeline = stream.source, stream.pipeline
    offset = source.unix_minus_lsl if isinstance(source, LslSource) else None
    stream.clock = StreamClock(stream.info.sfreq, live=stream.info.live, unix_minus_lsl=offset)
    stream.runner.add_chunk_listener(stream.clock.on_chunk)
    if request.lsl_out is not None:
        hop_s = pipeline.hop_samples / pipeline.sfreq
        lsl_out = LslOutput(request.lsl_out, stream.info, hop_s=hop_s, clock=stream.clock,
                            target=stream.target, filter_spec=lambda: pipeline.filter_settings)
        stream.outputs.append(lsl_out)
        lsl_out.attach(stream.runner)
    for osc in request.osc_out:
        osc_out = OscOutput(osc, stream.info.ch_names)
        stream.outputs.append(osc_out)
        osc_out.attach(stream.runner)
    if request.markers_in is not None:
        stream.markers_in = MarkersIn(request.markers_in, stream.runner, stream.clock,
                                      on_error=stream.runner.report_error)  # fmt: skip


def replay(
    recording: str | os.PathLike | Recording,
    *,
    speed: float | None = None,
    target: str | None = None,
    model_dir: str | os.PathLike | None = None,
    config: EngineConfig | None = None,
    hop_s: float | None = None,
    window_s: float | None = None,
    trace_path: str | os.PathLike | None = None,
    loop: bool = False,
    seek_s: float = 0.0,
    seconds: float | None = None,
    on_update: Callable[[Update], object] | None = None,
    overwrite: bool = False,
) -> list[Update]:
    """Run a recording through the live pipeline and return its updates (oldest first).

    A convenience over :func:`open_stream` for scripts and tests: the stream runs on this
    thread at ``speed=None`` and on the runner's thread (waited for) at a paced speed; the
    updates are the same either way (``latency_s`` aside).

    Parameters
    ----------
    recording : path-like or Recording
        What to replay (neurofb folder, EDF/EDF+/BDF, FIF, BrainFlow CSV, or an opened one).
    speed : float or None
        None for as fast as possible, 1.0 for real time, N for N× real time.
    target, model_dir : str, path-like, optional
        The focus target (default the attention model) and model folder.
    config : EngineConfig, optional
        Engine settings; ``hop_s`` and ``window_s`` override its fields.
    trace_path : path-like, optional
        Write the focus trace CSV here.
    loop, seek_s, seconds : bool, float, float
        Loop the recording (needs ``seconds``); start ``seek_s`` seconds in; stop after
        ``seconds`` of recording.
    on_update : callable, optional
        Called with every update as it comes.
    overwrite : bool
        Replace an existing file at ``trace_path``.
    """
    if loop and not seconds:
        raise ValueError("a looping replay needs seconds= to know when to stop")
    config = (config or EngineConfig()).with_(hop_s=hop_s, window_s=window_s)
    request = StreamRequest(
        ReplayRequest(recording, speed=speed, loop=loop, seek_s=seek_s, seconds=seconds),
        target=target, model_dir=None if model_dir is None else str(model_dir), config=config,
        trace_path=None if trace_path is None else str(trace_path), overwrite=overwrite,
    )  # fmt: skip
    updates: list[Update] = []
    with open_stream(request) as stream:
        stream.runner.add_update_listener(updates.append)
        if on_update is not None:
            stream.runner.add_update_listener(on_update)
        if speed is None:
            stream.run()
        else:
            stream.start()
            stream.runner.join()
    return updates
