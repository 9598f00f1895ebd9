"""The calibration exercise: guided rest and serial-subtraction blocks (the eegmat protocol).

Rest (eyes open) and task (count down in steps) blocks alternate, each after a short "get
ready" phase, and are marked ``block_start``/``block_end`` with labels ``"rest"``/``"task"``:
the training classes of :mod:`neurofb.recording.labels`. Import it from
:mod:`neurofb.practice.exercises`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neurofb.practice.exercise import TIME_EPS_S, Exercise, ExerciseView
from neurofb.practice.reward import FeedbackState
from neurofb.recording.labels import LABELS
from neurofb.types import Marker


@dataclass(frozen=True)
class CalibrationView(ExerciseView):
    """Calibration: the current ``phase`` (``"ready"``, ``"rest"``, ``"task"`` or ``"done"``).

    ``block_label`` is the label of the current block (of the next one during ``"ready"``),
    ``block_index`` its index (0-based) of ``n_blocks``; ``instruction`` (large) and ``detail``
    (small) are the text to show; ``phase_left_s`` and ``phase_progress`` time the phase;
    ``task_start``/``task_step`` are the serial subtraction numbers during a task block (None
    otherwise); ``recording_label`` is the label being recorded now (None between blocks or when
    paused).
    """

    phase: str
    block_label: str
    block_index: int
    n_blocks: int
    instruction: str
    detail: str
    phase_left_s: float
    phase_progress: float
    task_start: int | None
    task_step: int | None
    recording_label: str | None

@dataclass(frozen=True)
class _Phase:
    kind: str  # "ready", "rest" or "task"
    label: str  # the block's label ("rest"/"task"), also for "ready" (the next block)
    index: int
    start_s: float
    end_s: float


_TEXT = {
    "ready:rest": (
        "Get ready to relax",
        "Next: sit still with your eyes open, look at the dot and breathe calmly.",
    ),
    "ready:task": (
        "Get ready to count",
        "Next: count down in your head, as fast and as accurately as you can.",
    ),
    "rest": (
        "Relax with your eyes open",
        "Look at the dot, breathe slowly and let your thoughts pass. Don't count.",
    ),
    "done": (
        "Calibration done",
        "Thank you. This recording is labelled and can personalise your focus model.",
    ),
}


class Calibration(Exercise):
    """Guided calibration blocks, the eegmat protocol: rest (eyes open) and serial subtraction.

    Before each block a short "get ready" phase tells what comes next. Each task block gets a
    new 4-digit start and 2-digit step ("Count down from 3141 in steps of 47"), drawn from a
    seeded generator. Rest and task blocks are marked ``block_start``/``block_end`` with labels
    ``"rest"``/``"task"``; a pause closes the open block and resuming opens it again, so paused
    time is never labelled. No rewards are given (``uses_feedback`` is False).

    Parameters
    ----------
    blocks : sequence of str
        Block labels in order, each ``"rest"`` or ``"task"``.
    block_s : float
        Length of each block, seconds.
    ready_s : float
        Length of the "get ready" phase before each block, seconds (0 for none).
    seed : int or None
        Seed of the subtraction numbers.
    """

    name = "calibration"
    title = "Calibration"
    description = (
        "Alternate relaxing and mental arithmetic for a few minutes. The labelled recording "
        "personalises your focus model."
    )
    uses_feedback = False

    def __init__(
        self, *, blocks: Sequence[str] = ("rest", "task", "rest", "task"), block_s: float = 30.0,
        ready_s: float = 5.0, seed: int | None = None,
    ) -> None:
        blocks = tuple(blocks)
        if not blocks:
            raise ValueError("blocks must name at least one block ('rest' or 'task')")
        bad = [b for b in blocks if b not in LABELS]
        if bad:
            raise ValueError(f"calibration blocks must be 'rest' or 'task', got {bad}")
        if not block_s > 0:
            raise ValueError(f"block_s must be positive, got {block_s}")
        if ready_s < 0:
            raise ValueError(f"ready_s must be >= 0, got {ready_s}")
        self.blocks = blocks
        self.block_s = float(block_s)
        self.ready_s = float(ready_s)
        self.phases: list[_Phase] = []
        t = 0.0
        for i, label in enumerate(blocks):
            if ready_s > 0:
                self.phases.append(_Phase("ready", label, i, t, t + ready_s))
                t += ready_s
            self.phases.append(_Phase(label, label, i, t, t + block_s))
            t += block_s
        super().__init__(duration_s=t)
        rng = np.random.default_rng(seed)
        self.tasks: tuple[tuple[int, int], ...] = tuple(
            (int(rng.integers(1000, 10000)), int(rng.choice([s for s in range(11, 100) if s % 10])))
            for _ in blocks
        )
        self._phase_i = 0
        self._open: str | None = None  # label of the block marked open in the recording

    @property
    def phase(self) -> _Phase | None:
        """The current phase (None once done)."""
        return None if self.done else self.phases[self._phase_i]

    def _advance(self, fb: FeedbackState, e0: float, e1: float) -> list[Marker]:
        markers: list[Marker] = []
        if fb.paused:
            # Paused time is never labelled: the block ends where the last active step was.
            markers += self._close(self._prev_t if self._prev_t is not None else fb.t)
            return markers
        # Cross every phase boundary in (e0, e1], timing markers where the boundary fell.
        while True:
            phase = self.phases[self._phase_i]
            if phase.kind != "ready" and self._open is None:
                markers.append(Marker(fb.t - (e1 - max(e0, phase.start_s)), "block_start",
                                      phase.label))
                self._open = phase.label
            if e1 < phase.end_s - TIME_EPS_S or self._phase_i == len(self.phases) - 1:
                break
            markers += self._close(fb.t - (e1 - phase.end_s))
            self._phase_i += 1
        return markers

    def _close(self, t: float) -> list[Marker]:
        if self._open is None:
            return []
        label, self._open = self._open, None
        return [Marker(t, "block_end", label)]

    def _view(self, fb: FeedbackState, markers: tuple[Marker, ...]) -> CalibrationView:
        phase = self.phases[self._phase_i]
        start, step = self.tasks[phase.index]
        if self.done:
            kind, key = "done", "done"
        else:
            kind = phase.kind
            key = f"ready:{phase.label}" if kind == "ready" else kind
        if key == "task":
            instruction = f"Count down from {start} in steps of {step}"
            detail = (
                f"In your head: {start}, {start - step}, {start - 2 * step}, … "
                "Keep going until the block ends; if you lose track, start again from the top."
            )
        else:
            instruction, detail = _TEXT[key]
        length = phase.end_s - phase.start_s
        left = 0.0 if self.done else max(phase.end_s - self.elapsed_s, 0.0)
        return CalibrationView(
            **self._common(fb, markers), phase=kind, block_label=phase.label,
            block_index=phase.index, n_blocks=len(self.blocks), instruction=instruction,
            detail=detail, phase_left_s=left, phase_progress=1.0 - left / length,
            task_start=start if kind == "task" else None,
            task_step=step if kind == "task" else None, recording_label=self._open,
        )
