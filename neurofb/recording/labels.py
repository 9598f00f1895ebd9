"""Labelled blocks of a session, from its markers.

Calibration sessions mark each guided block with a ``block_start`` marker and a ``block_end``
marker carrying the same ``label``. The labels ``"rest"`` (relaxed, eyes open) and ``"task"``
(serial subtraction) are the training classes 0 and 1; any other label (an exercise name) is not a
training label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from neurofb.types import Marker

#: Training class of each calibration label.
LABELS: dict[str, int] = {"rest": 0, "task": 1}


@dataclass(frozen=True)
class Block:
    """A labelled stretch of a recording: ``[start_s, end_s)`` seconds since start."""

    start_s: float
    end_s: float
    label: str

    @property
    def y(self) -> int | None:
        """The training class (0 rest, 1 task) or None when the label is not a class."""
        return LABELS.get(self.label)


def blocks(markers: Iterable[Marker], *, end_s: float | None = None) -> list[Block]:
    """Pair ``block_start``/``block_end`` markers into blocks, in time order.

    Parameters
    ----------
    markers : iterable of Marker
        Markers of a session, in any order.
    end_s : float, optional
        End of the recording; a block left open (the session crashed) is closed there.
        Without it, an open block is dropped.
    """
    out: list[Block] = []
    open_blocks: dict[str, float] = {}
    for m in sorted(markers, key=lambda m: m.t):
        if m.kind == "block_start":
            open_blocks[m.label] = m.t
        elif m.kind == "block_end" and m.label in open_blocks:
            start = open_blocks.pop(m.label)
            if m.t > start:
                out.append(Block(start, m.t, m.label))
    if end_s is not None:
        for label, start in open_blocks.items():
            if end_s > start:
                out.append(Block(start, end_s, label))
    return sorted(out, key=lambda b: b.start_s)


def labelled_blocks(markers: Iterable[Marker], *, end_s: float | None = None) -> list[Block]:
    """Return only the blocks whose label is a training class (``rest`` or ``task``)."""
    return [b for b in blocks(markers, end_s=end_s) if b.y is not None]
