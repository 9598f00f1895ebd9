"""The calibration page: guided rest / serial-subtraction blocks, then personalisation.

The blocks, their timing, the subtraction numbers and the labelled markers come from the
engine's :class:`neurofb.practice.exercises.Calibration`; this page draws its ``CalibrationView``
and, when the recording is done, offers to personalise the focus model with it.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QPainter, QPen
from PyQt6.QtWidgets import QLabel, QVBoxLayout

from neurofb import paths
from neurofb_ui.exercise_views import Canvas, scaled_font
from neurofb_ui.qt_bridge import Task, start_task
from neurofb_ui.session_controller import SessionResult
from neurofb_ui.sound import SoundPlayer
from neurofb_ui.training_page import SessionPage

PHASE_COLOURS = {"ready": "#eceff1", "rest": "#e3f2fd", "task": "#fff3e0", "done": "#e8f5e9"}


def block_labels(n_blocks: int) -> tuple[str, ...]:
    """Alternating ``rest``/``task`` labels, starting with rest (the eegmat protocol)."""
    if n_blocks < 2:
        raise ValueError(f"calibration needs at least 2 blocks, got {n_blocks}")
    return tuple("rest" if i % 2 == 0 else "task" for i in range(n_blocks))


def personalise_check(recording: str, model_dir: str) -> str:
    """Whether a calibration recording can personalise the model in ``model_dir`` (worker
    thread): how many clean windows of rest and of task it has, or the NeurofbError
    :func:`neurofb.training.personalise.personalise` would raise (the same check,
    :func:`~neurofb.training.personalise.calibration_split`).
    """
    from neurofb.focus.card import read_card
    from neurofb.recording import open_recording
    from neurofb.training.personalise import calibration_split
    from neurofb.training.recordings import recording_windows

    window_s = read_card(model_dir).window_s or 2.0
    windows = recording_windows(open_recording(recording), window_s=window_s)
    calibration_split(windows)
    return (f"{int((windows.y == 0).sum())} clean {window_s:g} s windows of rest and "
            f"{int((windows.y == 1).sum())} of task")


class CalibrationCanvas(Canvas):
    """Draw the instruction of the current block, a fixation dot, and the block's progress."""

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self.blocks: tuple[str, ...] = ()

    def _strip(self, p: QPainter, w: float, current: int, done: bool) -> None:
        """The plan of blocks along the top, the current one outlined."""
        n = len(self.blocks)
        if not n:
            return
        cell = min(90.0, (w - 40) / n)
        x0 = (w - cell * n) / 2
        p.setFont(scaled_font(self, -1, bold=True))
        for i, label in enumerate(self.blocks):
            box = QRectF(x0 + i * cell + 3, 40, cell - 6, 24)
            passed = done or i < current
            col = QColor("#90caf9" if label == "rest" else "#ffcc80")
            if passed:
                col = col.darker(115)
            p.setPen(QPen(QColor("#263238"), 2.5) if i == current and not done
                     else Qt.PenStyle.NoPen)
            p.setBrush(col)
            p.drawRoundedRect(box, 6, 6)
            p.setPen(QColor("#263238"))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, ("✓ " if passed else "") + label)

    def paintEvent(self, _event: object) -> None:
        """Draw the current calibration phase."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        v = self.view
        phase = "ready" if v is None else v.phase
        p.fillRect(self.rect(), QColor(PHASE_COLOURS.get(phase, "#eceff1")))
        if v is None:
            p.setPen(QColor("#37474f"))
            p.setFont(scaled_font(self, 8, bold=True))
            p.drawText(QRectF(0, h * 0.25, w, 50), Qt.AlignmentFlag.AlignCenter,
                       "Calibration")
            p.setFont(scaled_font(self, 2))
            p.drawText(QRectF(w * 0.1, h * 0.25 + 60, w * 0.8, h * 0.5),
                       Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap,
                       "A few minutes of alternating blocks: relax with your eyes open, then "
                       "count down in your head. The labelled recording teaches the focus "
                       "model how your own brain looks at rest and at work.\n\n"
                       "Sit comfortably, check the signal on the Live page, then press Start.")
            p.end()
            return
        p.setPen(QColor("#263238"))
        p.setFont(scaled_font(self, 1, bold=True))
        n = v.n_blocks
        label = "" if phase == "done" else f"Block {v.block_index + 1} of {n} · {v.block_label}"
        p.drawText(QRectF(16, 10, w - 32, 24), Qt.AlignmentFlag.AlignLeft, label)
        self._strip(p, w, v.block_index, phase == "done")
        if v.recording_label:
            p.setPen(QColor("#c62828"))
            p.drawText(QRectF(16, 10, w - 32, 24), Qt.AlignmentFlag.AlignRight,
                       f"● recording “{v.recording_label}”")
        p.setPen(QColor("#263238"))
        p.setFont(scaled_font(self, 12, bold=True))
        p.drawText(QRectF(20, max(90, h * 0.18), w - 40, 60), Qt.AlignmentFlag.AlignCenter,
                   v.instruction)
        p.setFont(scaled_font(self, 3))
        p.drawText(QRectF(w * 0.1, max(90, h * 0.18) + 64, w * 0.8, 70),
                   Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap, v.detail)
        cy = h * 0.62
        if phase == "rest":
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#37474f"))
            p.drawEllipse(QPointF(w / 2, cy), 9, 9)
        elif phase == "task" and v.task_start is not None:
            p.setFont(scaled_font(self, 30, bold=True))
            p.setPen(QColor("#e65100"))
            p.drawText(QRectF(0, cy - 60, w, 100), Qt.AlignmentFlag.AlignCenter,
                       f"{v.task_start}")
            p.setFont(scaled_font(self, 8, bold=True))
            p.drawText(QRectF(0, cy + 40, w, 40), Qt.AlignmentFlag.AlignCenter,
                       f"− {v.task_step}, − {v.task_step}, − {v.task_step}, …")
        # progress of the phase
        if phase != "done":
            bar = QRectF(w * 0.15, h - 60, w * 0.7, 14)
            p.setPen(QPen(QColor("#90a4ae"), 1))
            p.setBrush(QColor("white"))
            p.drawRoundedRect(bar, 7, 7)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#546e7a"))
            p.drawRoundedRect(QRectF(bar.left(), bar.top(), bar.width() * v.phase_progress,
                                     bar.height()), 7, 7)
            p.setPen(QColor("#37474f"))
            p.setFont(scaled_font(self, 0))
            p.drawText(QRectF(0, h - 42, w, 20), Qt.AlignmentFlag.AlignCenter,
                       f"{v.phase_left_s:.0f} s left in this part")
        if v.message:
            self._message(p, QRectF(0, 0, w, h - 70), v.message)
        p.end()


class CalibrationPage(SessionPage):
    """Run the calibration protocol and offer the recording for personalisation."""

    uses_threshold = False
    not_kept_note = ("The calibration ended before its first block was complete: nothing was "
                     "recorded or added to your history.")

    def __init__(self, window: Any, sound: SoundPlayer) -> None:
        super().__init__(window, sound)
        self.canvas_widget = CalibrationCanvas()
        self.stack.addWidget(self.canvas_widget)
        self.stack.addWidget(self.summary)
        self.plan = QLabel()
        self.plan.setWordWrap(True)
        self.summary.personalise.connect(self.personalise)
        self.start_button.setText("Start calibration")
        #: Whether the running (or last) calibration came from a headset (its EEG follows the
        #: blocks), not a recording or a simulation.
        self.from_headset = True
        lay = QVBoxLayout(self)
        lay.addWidget(self.plan)
        lay.addLayout(self.controls())
        lay.addWidget(self.stack, 1)
        self.apply_settings(window.settings)

    def apply_settings(self, settings: Any) -> None:
        """Describe the planned blocks."""
        n, block = settings.calib_blocks, settings.calib_block_s
        total = n * (block + self.ready_s(block))
        self.plan.setText(
            f"<b>{n} blocks of {block:g} s</b>, alternating rest and mental arithmetic "
            f"(about {total / 60:.1f} min). Change the length in Settings."
        )

    @staticmethod
    def ready_s(block_s: float) -> float:
        """The 'get ready' pause before each block: 5 s, shorter for short blocks."""
        return min(5.0, block_s / 3)

    def make_exercise(self) -> Any:
        """The engine's calibration exercise with the blocks of the settings."""
        from neurofb.practice.exercises import make_exercise

        s = self.window.settings
        return make_exercise("calibration", blocks=block_labels(s.calib_blocks),
                             block_s=s.calib_block_s, ready_s=self.ready_s(s.calib_block_s))

    def canvas(self) -> Any:
        """The calibration drawing."""
        return self.canvas_widget

    def draw_step(self, step: Any) -> None:
        """Show the current block."""
        self.canvas_widget.set_view(step.view)

    def start_session(self) -> bool:
        """Start the calibration; the canvas shows its plan of blocks."""
        ok = super().start_session()
        if ok:
            self.canvas_widget.blocks = self.controller.session.exercise.blocks
            opened = self.window.stream.current
            info = opened.info
            self.from_headset = info.live and not info.simulated and not info.replayed
            if not self.from_headset:
                self.session_banner = (
                    "This source is a recording or a simulation: its EEG does not follow the "
                    "blocks on screen. The calibration runs and is recorded, but personalising "
                    "from it will not fit anyone — calibrate with a headset on.")
                self.window.show_problem(self.session_banner, "warning")
        return ok

    def on_finished(self, result: SessionResult) -> None:
        """Show the summary with the personalisation offer, once the recording is checked."""
        super().on_finished(result)
        if not result.recording:
            return
        model = self.window.pages.get("model")
        if model is not None:
            model.add_calibration(result.recording)
        caveat = "" if self.from_headset else (
            "its EEG came from a recording or a simulation, which did not follow the blocks: "
            "a model personalised from it fits no one")
        model_dir = self.window.settings.model_dir or str(paths.default_model_dir())
        start_task(Task(
            personalise_check, result.recording, model_dir,
            on_done=lambda counts: self.summary.set_personalise(result.recording, True, counts,
                                                                caveat),
            on_error=lambda why: self.summary.set_personalise(result.recording, False, why)))

    def personalise(self, recording: str) -> None:
        """Open the model page and personalise from ``recording``."""
        model = self.window.pages.get("model")
        if model is None or not recording:
            return
        self.window.show_page("model")
        model.personalise(recording)
