"""The end-of-session summary: time on target, rewards, mean focus per block, streak, quality."""

from __future__ import annotations

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
    """

    again = pyqtSignal()
    history = pyqtSignal()
    personalise = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None
        lay = QVBoxLayout(self)
        self.title = QLabel("<h2>Session summary</h2>")
        lay.addWidget(self.title)
        stats = QGroupBox("How it went")
        self.grid = QGridLayout(stats)
        self.values: dict[str, QLabel] = {}
        names = [
            ("duration", "Session time"), ("on_target", "Time on target"),
            ("fraction", "Share of time on target"), ("rewards", "Rewards"),
            ("points", "Points"), ("streak", "Longest streak"), ("mean_focus", "Mean focus"),
            ("quality", "Signal quality"), ("gated", "Time with bad signal"),
            ("threshold", "Threshold (start → end)"),
        ]
        for i, (key, label) in enumerate(names):
            name = QLabel(label)
            value = QLabel("–")
            value.setStyleSheet("font-size: 16px; font-weight: bold;")
            r, c = divmod(i, 2)
            self.grid.addWidget(name, r, 2 * c)
            self.grid.addWidget(value, r, 2 * c + 1)
            self.values[key] = value
        lay.addWidget(stats)

        charts = QHBoxLayout()
        self.blocks_plot = pg.PlotWidget(title="Mean focus per block")
        self.trace_plot = pg.PlotWidget(title="Focus during the session")
        self.blocks_plot.setMaximumWidth(380)
        for plot in (self.blocks_plot, self.trace_plot):
            pi = plot.getPlotItem()
            pi.setMenuEnabled(False)
            pi.hideButtons()
            pi.setMouseEnabled(x=False, y=False)
            pi.setYRange(0, 1, padding=0.02)
            plot.setMinimumHeight(180)
        charts.addWidget(self.trace_plot, 3)
        charts.addWidget(self.blocks_plot, 1)
        lay.addLayout(charts, 1)
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

    def show_result(self, result: Any, trace: Any = None) -> None:
        """Fill the summary from a finished session.

        Parameters
        ----------
        result : SessionResult
            The finished session.
        trace : tuple of arrays, optional
            ``(t, focus, threshold, reward_t)`` seen during the session (seconds, focus with
            NaN where gated, threshold in force, times of rewards), for the focus chart.
        """
        self.result = result
        fb, row = result.feedback, result.summary
        self.title.setText(f"<h2>Session summary — {row.exercise}</h2>")
        v = self.values
        v["duration"].setText(fmt_duration(fb.duration_s))
        v["on_target"].setText(fmt_duration(fb.time_on_target_s))
        v["fraction"].setText(fmt_fraction(fb.on_target_fraction))
        v["rewards"].setText(str(fb.rewards))
        v["points"].setText(str(fb.points))
        v["streak"].setText(str(fb.longest_streak))
        v["mean_focus"].setText(fmt_focus(fb.mean_focus))
        v["quality"].setText(fmt_focus(fb.mean_quality))
        v["gated"].setText(f"{fmt_duration(fb.gated_s)} ({fmt_fraction(fb.gated_fraction)})")
        v["threshold"].setText(f"{fb.threshold_start:.2f} → {fb.threshold_end:.2f}")
        self._draw_blocks(fb.blocks)
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
        calib = row.exercise == "calibration" and bool(result.recording)
        self.personalise_button.setVisible(calib)

    def _draw_blocks(self, blocks: Any) -> None:
        pi = self.blocks_plot.getPlotItem()
        pi.clear()
        shown = [b for b in blocks if b.mean_focus is not None]
        if not shown:
            pi.getAxis("bottom").setTicks(None)
            _say(pi, "no block with a focus value")
            return
        colours = {"rest": "#42a5f5", "task": "#ef6c00"}
        x = np.arange(len(shown))
        bars = pg.BarGraphItem(
            x=x, height=[b.mean_focus for b in shown], width=0.7,
            brushes=[pg.mkBrush(colours.get(b.label, "#66bb6a")) for b in shown],
        )
        pi.addItem(bars)
        pi.getAxis("bottom").setTicks([[(i, b.label) for i, b in enumerate(shown)]])
        pi.setXRange(-0.6, max(len(shown), 3) - 0.4, padding=0)

    def _draw_trace(self, trace: Any) -> None:
        pi = self.trace_plot.getPlotItem()
        pi.clear()
        if trace is None or not len(trace[0]):
            _say(pi, "no focus values were seen")
            return
        t, focus, threshold, rewards = (np.asarray(a, dtype=float) for a in trace)
        t0 = t[0]
        pi.plot(t - t0, focus, pen=pg.mkPen("#1e88e5", width=2), connect="finite")
        colours = {"rest": (66, 165, 245, 50), "task": (239, 108, 0, 50)}
        for b in getattr(self.result.feedback, "blocks", ()) if self.result else ():
            if b.label in colours:
                region = pg.LinearRegionItem((b.start_t - t0, b.end_t - t0), movable=False,
                                             brush=pg.mkBrush(*colours[b.label]))
                region.setZValue(-10)
                pi.addItem(region)
        pi.plot(t - t0, threshold, pen=pg.mkPen("#d32f2f", width=2), connect="finite")
        if rewards.size:
            pi.plot(rewards - t0, np.full(rewards.size, 0.97), pen=None, symbol="star",
                    symbolSize=12, symbolBrush="#ffb300", symbolPen="#ff8f00")
        pi.setLabel("bottom", "seconds (focus blue, threshold red, rewards ★)")
        pi.setXRange(0, max(float(t[-1] - t0), 1.0), padding=0.01)
