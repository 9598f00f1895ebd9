"""Streaming: sources, the real-time pipeline, the runner thread, recording a stream.

Live and replay are one path: a :class:`~neurofb.stream.source.Source` (a BrainFlow board, a
replayed recording) delivers :class:`~neurofb.types.Chunk` objects; the
:class:`~neurofb.stream.runner.StreamRunner` feeds them to the
:class:`~neurofb.stream.pipeline.Pipeline` and fans the :class:`~neurofb.types.Update` objects
out to listeners (trace, recorder, reward logic, the app). :func:`open_stream` assembles all of
it from one frozen :class:`StreamRequest`; the CLI and the app call nothing else.

The names below are imported from their modules on first use (PEP 562), so importing
``neurofb.stream.assemble`` to start a board costs no more than what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "BoardRequest": "assemble",
    "ClosedStream": "assemble",
    "OpenedStream": "assemble",
    "RecordRequest": "assemble",
    "ReplayRequest": "assemble",
    "StreamRequest": "assemble",
    "make_source": "assemble",
    "open_stream": "assemble",
    "replay": "assemble",
    "BrainFlowSource": "brainflow",
    "open_board": "brainflow",
    "Pipeline": "pipeline",
    "FinishedRecording": "recorder",
    "StreamRecorder": "recorder",
    "ReplaySource": "replay",
    "StatusEvent": "runner",
    "StreamRunner": "runner",
    "Source": "source",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'neurofb.stream' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"neurofb.stream.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
