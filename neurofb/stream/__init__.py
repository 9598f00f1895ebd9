"""Streaming: sources, the real-time pipeline, the runner thread, recording a stream.

Live and replay are one path: a :class:`~neurofb.stream.source.Source` (a BrainFlow board, a
replayed recording) delivers :class:`~neurofb.types.Chunk` objects; the
:class:`~neurofb.stream.runner.StreamRunner` feeds them to the
:class:`~neurofb.stream.pipeline.Pipeline` and fans the :class:`~neurofb.types.Update` objects
out to listeners (trace, recorder, reward logic, the app). :func:`open_stream` assembles all of
it from one frozen :class:`StreamRequest`; the CLI and the app call nothing else.
"""

from neurofb.stream.assemble import (
    BoardRequest,
    ClosedStream,
    OpenedStream,
    RecordRequest,
    ReplayRequest,
    StreamRequest,
    make_source,
    open_stream,
    replay,
)
from neurofb.stream.brainflow import BrainFlowSource, open_board
from neurofb.stream.pipeline import Pipeline
from neurofb.stream.recorder import FinishedRecording, StreamRecorder
from neurofb.stream.replay import ReplaySource
from neurofb.stream.runner import StatusEvent, StreamRunner
from neurofb.stream.source import Source

__all__ = [
    "BoardRequest",
    "BrainFlowSource",
    "ClosedStream",
    "FinishedRecording",
    "OpenedStream",
    "Pipeline",
    "RecordRequest",
    "ReplayRequest",
    "ReplaySource",
    "Source",
    "StatusEvent",
    "StreamRecorder",
    "StreamRequest",
    "StreamRunner",
    "make_source",
    "open_board",
    "open_stream",
    "replay",
]
