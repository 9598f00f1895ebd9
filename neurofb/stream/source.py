"""The :class:`Source` protocol: what the stream runner reads from (boards, replays, LSL).

::

    source.start()          # BoardError: unknown / missing / busy device
    chunk = source.read()   # new samples since the last read, or None
    source.restart()        # release and prepare again (reconnect after a failure)
    source.stop()           # idempotent, releases the device

The runner calls all four from its own thread, never from two threads at once.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from neurofb.types import Chunk, SourceInfo

__all__ = ["Source"]


@runtime_checkable
class Source(Protocol):
    """Anything that delivers :class:`~neurofb.types.Chunk` objects (boards, replays)."""

    info: SourceInfo

    def start(self) -> None:
        """Open the device and start streaming (BoardError when unknown, missing or busy)."""
        ...

    def read(self) -> Chunk | None:
        """Return the samples since the last read, or None when there are none yet.

        Raises BoardError if the device died and EndOfStream when a finite source is exhausted.
        """
        ...

    def stop(self) -> None:
        """Stop streaming and release the device (safe to call twice)."""
        ...

    def restart(self) -> None:
        """Release the device and open it again (reconnect after a failure)."""
        ...
