"""The end-of-session summary: what the session was, how it went, and its focus trace.

A training session shows time on target, rewards, points, streak, mean focus per block and
quality. A calibration gives no reward feedback, so none of that: its rest and task blocks, the
clean signal each got, and whether its recording can personalise the focus model. The focus
chart runs on session time, the clock of "Session time": paused time is left out and the line
breaks where a pause was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from neurofb.recording.labels import LABELS


def fmt_duration(seconds: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a number of seconds; '–' for None."""
    if seconds is None:
        return "–"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_fraction(value: float | None) -> str:
    """A fraction as a percentage; '–' for None."""
    return "–" if value is None else f"{100 * value:.0f} %"


def fmt_focus(value: float | None) -> str:
    """A focus value with two decimals; '–' for None."""
    return "–" if value is None else f"{value:.2f}"


def gives_rewards(exercise: str) -> bool:
    """Whether sessions of ``exercise`` have reward feedback (a calibration has none), as the
    engine's list of exercises says; one it does not know is taken as rewarded."""
    from neurofb.practice.exercises import EXERCISES

    info = EXERCISES.get(exercise)
    return info is None or info.uses_feedback


def calibration_blocks(blocks: Any) -> list[tuple[str, float, float]]:
    """``(label, seconds, clean seconds)`` of each rest and task block of a calibration.

    ``blocks`` are the session's :class:`neurofb.practice.reward.BlockSummary`; a pause closes
    the block it falls in and resuming opens it again, so pieces in a row with one label are one
    block.
    """
    out: list[tuple[str, float, float]] = []
    for b in blocks:
        if b.label not in LABELS:
            continue
        if out and out[-1][0] == b.label:
            _, seconds, clean = out.pop()
            out.append((b.label, seconds + b.duration_s, clean + b.valid_s))
        else:
            out.append((b.label, b.duration_s, b.valid_s))
    return out


@dataclass
class SessionTrace:
    """The focus chart of a running session, gathered step by step (GUI thread).

    ``t`` is the stream time of each unpaused step (to place the blocks, whose markers are in
    stream time), ``session_s`` its session time (:attr:`FeedbackState.elapsed_s
    <neurofb.practice.reward.FeedbackState.elapsed_s>`: pauses left out); ``focus`` is NaN
    where gated; ``rewards`` holds the session time of each reward, ``breaks`` the index of the
    first step after each pause.
    """

    t: list[float] = field(default_factory=list)
    session_s: list[float] = field(default_factory=list)
    focus: list[float] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    breaks: list[int] = field(default_factory=list)
    paused: bool = False

    def add(self, fb: Any) -> None:
        """Add a step's :class:`neurofb.practice.reward.FeedbackState` (a paused one only
        notes that a pause came)."""
        if fb.paused:
            self.paused = bool(self.t)
            return
        if self.paused:
            self.breaks.append(len(self.t))
            self.paused = False
        self.t.append(fb.t)
        self.session_s.append(fb.elapsed_s)
        self.focus.append(np.nan if fb.focus is None else fb.focus)
        self.threshold.append(fb.threshold)
        if fb.reward:
            self.rewards.append(fb.elapsed_s)

    @property
    def pauses(self) -> list[float]:
        """Session time of each pause, seconds."""
        return [self.session_s[i - 1] for i in self.breaks]

    def curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(session_s, focus, threshold)``, with a point without focus or threshold at each
        pause (the lines break there)."""
        at = np.asarray(self.breaks, dtype=int)
        x = np.insert(np.asarray(self.session_s, dtype=float), at, self.pauses)
        focus = np.insert(np.asarray(self.focus, dtype=float), at, np.nan)
        threshold = np.insert(np.asarray(self.threshold, dtype=float), at, np.nan)
        return x, focus, threshold

    def session_at(self, t: float) -> float:
        """The session time at stream time ``t`` (seconds)."""
        return float(np.interp(t, self.t, self.session_s))


#: Bar colours of the calibration's blocks.
BLOCK_COLOURS = {"rest": "#42a5f5", "task": "#ef6c00"}


def _say(pi: pg.PlotItem, text: str) -> None:
    """Write ``text`` in the middle of an empty chart (inside its axes)."""
    pi.setXRange(0, 1, padding=0)
    pi.setYRange(0, 1, padding=0.02)
    item = pg.TextItem(text, color="#666", anchor=(0.5, 0.5))
    item.setPos(0.5, 0.5)
    pi.addItem(item)


class SummaryView(QWidget):
    """Show a :class:`neurofb_ui.session_controller.SessionResult`.

    Signals ``again`` (train again), ``history`` (open the history page) and ``personalise``
    (use this calibration recording to personalise the model) come from its buttons.
    ``values`` maps each figure shown to the QLabel showing it (training: ``duration``,
    ``on_target``, ``fraction``, ...; calibration: ``duration``, ``blocks``, ``clean_rest``,
    ``clean_task``, ``personalise``, ...).
    """

    again = pyqtSignal()
    history = pyqtSignal()
    personalise = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None
        self.rewarded = True
        lay = QVBoxLayout(self)
        self.title = QLabel("<h2>Session summary</h2>")
        lay.addWidget(self.title)
        stats = QGroupBox("How it went")
        self.grid = QGridLayout(stats)
        self.values: dict[str, QLabel] = {}
        lay.addWidget(stats)

        charts = QHBoxLayout()
        self.blocks_plot = pg.PlotWidget()
        self.trace_plot = pg.PlotWidget(title="Focus during the session")
        self.blocks_plot.setMaximumWidth(380)
        for plot in (self.blocks_plot, self.trace_plot):
            pi = plot.getPlotItem()
            pi.setMenuEnabled(False)
            pi.hideButtons()
            pi.setMouseEnabled(x=False, y=False)
            plot.setMinimumHeight(180)
        charts.addWidget(self.trace_plot, 3)
        charts.addWidget(self.blocks_plot, 1)
        lay.addLayout(charts, 1)
        #: The focus line of the trace chart (x: session time, s), and a line at each pause.
        self.focus_curve: pg.PlotDataItem | None = None
        self.threshold_curve: pg.PlotDataItem | None = None
        self.pause_lines: list[pg.InfiniteLine] = []
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.where)
        buttons = QHBoxLayout()
        self.again_button = QPushButton("Train again")
        self.history_button = QPushButton("See your progress")
        self.personalise_button = QPushButton("Personalise my focus model with this calibration")
        self.personalise_button.setVisible(False)
        self.again_button.clicked.connect(self.again)
        self.history_button.clicked.connect(self.history)
        self.personalise_button.clicked.connect(
            lambda: self.personalise.emit(self.result.recording if self.result else "")
        )
        buttons.addWidget(self.again_button)
        buttons.addWidget(self.history_button)
        buttons.addStretch(1)
        buttons.addWidget(self.personalise_button)
        lay.addLayout(buttons)

    def show_result(self, result: Any, trace: SessionTrace | None = None) -> None:
        """Fill the summary from a finished session.

        Parameters
        ----------
        result : SessionResult
            The finished session.
        trace : SessionTrace, optional
            What the session's steps showed, for the focus chart.
        """
        self.result = result
        self.rewarded = gives_rewards(result.exercise)
        fb = result.feedback
        if self.rewarded:
            self.title.setText(f"<h2>Session summary — {result.exercise}</h2>")
            rows = self._reward_rows(fb, trace)
            if result.mode:
                rows.append(("mode", "Focus estimated in", result.mode))
            self._fill(rows)
            self._draw_focus_blocks(fb.blocks)
        else:
            self.title.setText("<h2>Calibration summary</h2>")
            self._fill(self._calibration_rows(fb, recorded=bool(result.recording)))
            self._draw_clean_blocks(calibration_blocks(fb.blocks))
        self._draw_trace(trace)
        lines = []
        if result.recording:
            lines.append(f"Recorded in {result.recording}")
        else:
            lines.append("This session was not recorded.")
        if result.library_id is not None:
            lines.append(f"Added to your session library (#{result.library_id}).")
        if result.problem:
            lines.append(f"<span style='color:#b71c1c'>{result.problem}</span>")
        self.where.setText("<br>".join(lines))
        self.personalise_button.setVisible(not self.rewarded and bool(result.recording))
        self.personalise_button.setEnabled(True)

    def set_personalise(self, recording: str, usable: bool, text: str, caveat: str = "") -> None:
        """Say whether the calibration recorded in ``recording`` can personalise the focus
        model, and why, with a ``caveat`` to a yes (nothing changes when another session is
        shown)."""
        label = self.values.get("personalise")
        if label is None or self.result is None or self.result.recording != recording:
            return
        caveat = caveat if usable else ""
        label.setText(f"{'yes' if usable else 'no'} — {text}" + (f"; but {caveat}" if caveat
                                                                 else ""))
        colour = "#8d6e00" if caveat else "#2e7d32" if usable else "#b71c1c"
        label.setStyleSheet(f"font-size: 16px; font-weight: bold; color: {colour};")
        self.personalise_button.setEnabled(usable)

    # -- the figures ------------------------------------------------------------------------
    @staticmethod
    def _reward_rows(fb: Any, trace: SessionTrace | None = None) -> list[tuple[str, str, str]]:
        threshold = f"{fb.threshold_start:.2f} → {fb.threshold_end:.2f}"
        seen = np.asarray(trace.threshold if trace is not None else [], dtype=float)
        seen = seen[np.isfinite(seen)]
        if seen.size and (seen.min() < min(fb.threshold_start, fb.threshold_end) - 0.005
                          or seen.max() > max(fb.threshold_start, fb.threshold_end) + 0.005):
            threshold += f" ({seen.min():.2f}–{seen.max():.2f} during)"  # where it went between
        return [
            ("duration", "Session time", fmt_duration(fb.duration_s)),
            ("on_target", "Time on target", fmt_duration(fb.time_on_target_s)),
            ("fraction", "Share of time on target", fmt_fraction(fb.on_target_fraction)),
            ("rewards", "Rewards", str(fb.rewards)),
            ("points", "Points", str(fb.points)),
            ("streak", "Longest streak", str(fb.longest_streak)),
            ("mean_focus", "Mean focus", fmt_focus(fb.mean_focus)),
            ("quality", "Signal quality", fmt_focus(fb.mean_quality)),
            ("gated", "Time with bad signal",
             f"{fmt_duration(fb.gated_s)} ({fmt_fraction(fb.gated_fraction)})"),
            ("threshold", "Threshold (start → end)", threshold),
        ]

    @staticmethod
    def _calibration_rows(fb: Any, *, recorded: bool) -> list[tuple[str, str, str]]:
        blocks = calibration_blocks(fb.blocks)
        counts = {label: sum(b[0] == label for b in blocks) for label in LABELS}
        rows = [
            ("duration", "Calibration time", fmt_duration(fb.duration_s)),
            ("blocks", "Blocks recorded",
             f"{len(blocks)} ({counts['rest']} rest, {counts['task']} task)"),
        ]
        for label in LABELS:
            seconds = sum(b[1] for b in blocks if b[0] == label)
            clean = sum(b[2] for b in blocks if b[0] == label)
            rows.append((f"clean_{label}", f"Clean signal in {label} blocks",
                         f"{fmt_duration(clean)} of {fmt_duration(seconds)}"))
        rows += [
            ("quality", "Signal quality", fmt_focus(fb.mean_quality)),
            ("mean_focus", "Mean focus", fmt_focus(fb.mean_focus)),
            ("personalise", "Can personalise your model",
             "checking the recording…" if recorded else "no — it was not recorded"),
        ]
        return rows

    def _fill(self, rows: list[tuple[str, str, str]]) -> None:
        """Show ``(key, label, value)`` rows, two to a line (whether a calibration can
        personalise takes a line of its own)."""
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.values = {}
        for i, (key, label, text) in enumerate(rows):
            value = QLabel(text)
            value.setStyleSheet("font-size: 16px; font-weight: bold;")
            value.setWordWrap(True)  # a long value wraps rather than widening the window
            r, c = divmod(i, 2)
            wide = key == "personalise"
            if wide:
                r, c = r + c, 0
            self.grid.addWidget(QLabel(label), r, 2 * c)
            self.grid.addWidget(value, r, 2 * c + 1, 1, 3 if wide else 1)
            self.values[key] = value

    # -- the charts -------------------------------------------------------------------------
    def _bar_chart(self, title: str, labels: list[str], empty: str) -> pg.PlotItem | None:
        """Clear the blocks chart for bars named ``labels``; None, saying ``empty``, for none."""
        pi = self.blocks_plot.getPlotItem()
        pi.clear()
        pi.setTitle(title)
        if not labels:
            pi.getAxis("bottom").setTicks(None)
            _say(pi, empty)
            return None
        pi.getAxis("bottom").setTicks([list(enumerate(labels))])
        pi.setXRange(-0.6, max(len(labels), 3) - 0.4, padding=0)
        return pi

    def _draw_focus_blocks(self, blocks: Any) -> None:
        shown = [b for b in blocks if b.mean_focus is not None]
        pi = self._bar_chart("Mean focus per block", [b.label for b in shown],
                             "no block with a focus value")
        if pi is None:
            return
        pi.setLabel("left", "")
        pi.setYRange(0, 1, padding=0.02)
        pi.addItem(pg.BarGraphItem(
            x=np.arange(len(shown)), height=[b.mean_focus for b in shown], width=0.7,
            brushes=[pg.mkBrush(BLOCK_COLOURS.get(b.label, "#66bb6a")) for b in shown],
        ))

    def _draw_clean_blocks(self, blocks: list[tuple[str, float, float]]) -> None:
        """Each calibration block's length (pale) and its clean signal (solid), seconds."""
        pi = self._bar_chart("Clean signal per block", [b[0] for b in blocks],
                             "no rest or task block was recorded")
        if pi is None:
            return
        x = np.arange(len(blocks))
        pi.addItem(pg.BarGraphItem(x=x, height=[b[1] for b in blocks], width=0.7,
                                   brush=pg.mkBrush("#eceff1"), pen=pg.mkPen("#90a4ae")))
        pi.addItem(pg.BarGraphItem(x=x, height=[b[2] for b in blocks], width=0.7,
                                   brushes=[pg.mkBrush(BLOCK_COLOURS[b[0]]) for b in blocks]))
        pi.setLabel("left", "seconds")
        pi.setYRange(0, max(b[1] for b in blocks), padding=0.05)

    def _draw_trace(self, trace: SessionTrace | None) -> None:
        pi = self.trace_plot.getPlotItem()
        pi.clear()
        self.focus_curve, self.threshold_curve, self.pause_lines = None, None, []
        pi.setYRange(0, 1, padding=0.02)
        if trace is None or not trace.t:
            _say(pi, "no focus values were seen")
            return
        x, focus, threshold = trace.curves()
        self.focus_curve = pi.plot(x, focus, pen=pg.mkPen("#1e88e5", width=2), connect="finite")
        colours = {"rest": (66, 165, 245, 50), "task": (239, 108, 0, 50)}
        for b in self.result.feedback.blocks if self.result else ():
            if b.label in colours:
                region = pg.LinearRegionItem(
                    (trace.session_at(b.start_t), trace.session_at(b.end_t)), movable=False,
                    brush=pg.mkBrush(*colours[b.label]))
                region.setZValue(-10)
                pi.addItem(region)
        for at in trace.pauses:
            line = pg.InfiniteLine(pos=at, angle=90, label="paused",
                                   pen=pg.mkPen("#78909c", width=1, style=Qt.PenStyle.DashLine),
                                   labelOpts={"position": 0.9, "color": "#546e7a"})
            pi.addItem(line)
            self.pause_lines.append(line)
        if self.rewarded:
            fb = self.result.feedback if self.result else None
            if fb is not None and len(x) and np.isfinite(threshold[-1]) and (
                    abs(fb.threshold_end - threshold[-1]) > 1e-9):
                # the last update moved it: the line ends where the summary's "end" says
                x = np.append(x, x[-1])
                threshold = np.append(threshold, fb.threshold_end)
            self.threshold_curve = pi.plot(x, threshold, pen=pg.mkPen("#d32f2f", width=2),
                                           connect="finite")
            if trace.rewards:
                pi.plot(trace.rewards, np.full(len(trace.rewards), 0.97), pen=None,
                        symbol="star", symbolSize=12, symbolBrush="#ffb300", symbolPen="#ff8f00")
            what = "focus blue, threshold red, rewards ★"
        else:
            what = "focus blue; rest blocks blue, task orange"
        pi.setLabel("bottom", f"session time, s — pauses left out ({what})")
        end = self.result.feedback.duration_s if self.result else trace.session_s[-1]
        pi.setXRange(0, max(end, 1.0), padding=0.01)
