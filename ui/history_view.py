"""The history page: progress across sessions and days, and any past session's focus trace.

Everything comes from the session library (:class:`neurofb.library.index.SessionLibrary`) and the
recordings it points at; reading them, and rebuilding the index, runs on worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from neurofb_ui.qt_bridge import Task, start_task
from neurofb_ui.session_summary import fmt_duration, fmt_focus, fmt_fraction, gives_rewards

#: Shading of a trace's blocks: (fill colour, colour name).
REST_SHADE = ((66, 165, 245, 50), "blue")
TASK_SHADE = ((239, 108, 0, 50), "orange")
#: Paused time of a session: grey over its blocks.
PAUSE_SHADE = (120, 144, 156, 90)
#: The trace plot's title before a trace is shown.
TRACE_PROMPT = "Select a session and press “Show focus trace”"

#: Days the minutes-per-day chart shows (the latest).
MAX_DAYS = 14
#: Up to this many days, each bar's label also counts its sessions.
FULL_LABEL_DAYS = 5

COLUMNS = ("Date", "Exercise", "Length", "Mean focus", "On target", "Rewards", "Points",
           "Best streak", "Quality", "Model", "Recording")


@dataclass(frozen=True)
class HistoryData:
    """What the worker reads from the library: sessions and per-day progress."""

    sessions: tuple
    days: tuple


@dataclass(frozen=True)
class TraceData:
    """A past session's focus trace, read from its recording (times in s from its start)."""

    path: str
    t: np.ndarray
    focus: np.ndarray
    thresholds: tuple[tuple[float, float], ...]
    rewards: np.ndarray
    blocks: tuple
    duration_s: float
    pauses: tuple[tuple[float, float], ...] = ()  # (paused at, resumed at) in s


def read_history(library_path: str | None, user: str | None) -> HistoryData:
    """Read sessions and day progress (worker thread)."""
    from neurofb.library.index import SessionLibrary

    lib = SessionLibrary(library_path)
    try:
        return HistoryData(tuple(lib.list_sessions(user)), tuple(lib.progress(user)))
    finally:
        lib.close()


def read_trace(path: str) -> TraceData:
    """Read the focus trace, thresholds, rewards and blocks of a recording (worker thread)."""
    from neurofb.recording import open_recording
    from neurofb.recording.labels import blocks

    rec = open_recording(path)
    t = np.array([float(r["t"]) for r in rec.trace], dtype=float)
    focus = np.array([float(r["focus"]) if r["focus"] else np.nan for r in rec.trace])
    thresholds = tuple((m.t, m.value) for m in rec.markers
                       if m.kind == "threshold" and m.value is not None)
    rewards = np.array([m.t for m in rec.markers if m.kind == "reward"], dtype=float)
    return TraceData(str(path), t, focus, thresholds, rewards,
                     tuple(blocks(rec.markers, end_s=rec.duration_s)), rec.duration_s,
                     pauses(rec.markers, rec.duration_s))


def pauses(markers: Any, end_s: float) -> tuple[tuple[float, float], ...]:
    """The paused stretches of a session, ``(paused at, resumed at)``, from its ``pause`` and
    ``resume`` markers (a pause never resumed lasts to ``end_s``)."""
    out, start = [], None
    for m in markers:
        if m.kind == "pause" and start is None:
            start = m.t
        elif m.kind == "resume" and start is not None:
            out.append((start, m.t))
            start = None
    if start is not None:
        out.append((start, end_s))
    return tuple(out)


def block_shade(label: str) -> tuple[str, tuple[tuple[int, ...], str]] | None:
    """What a block labelled ``label`` is called in the trace's caption and how it is shaded:
    calibration rest and the session's baseline rest blue, calibration task and exercise
    blocks orange; None for a label not shaded."""
    from neurofb.practice.exercises import EXERCISES
    from neurofb.practice.rest import REST_LABEL

    if label == "rest":
        return "rest", REST_SHADE
    if label == REST_LABEL:
        return "baseline rest", REST_SHADE
    if label == "task":
        return "task", TASK_SHADE
    if label in EXERCISES:
        return "exercise", TASK_SHADE
    return None


#: Replay pressed while a session runs (the replay would take its stream and end it).
REPLAY_WAITS = ("A session is running: end it first, then replay the recording (the replay "
                "takes the stream the session runs on).")


def reindex(library_path: str | None, root: str) -> Any:
    """Rebuild the library index from the recordings folder, and the recordings kept elsewhere
    that the data folder notes (worker thread)."""
    from neurofb.library import elsewhere
    from neurofb.library.index import SessionLibrary

    lib = SessionLibrary(library_path)
    try:
        return lib.reindex(root, also=elsewhere.kept())
    finally:
        lib.close()


def legend_below(plot: pg.PlotItem, entries: tuple) -> pg.LegendItem:
    """A one-row legend of ``entries`` (item, name) in a row of its own under ``plot``'s
    bottom axis, outside the data area (a legend inside the view box hid data points)."""
    legend = pg.LegendItem(offset=None, colCount=len(entries))
    for item, name in entries:
        legend.addItem(item, name)
    holder = pg.GraphicsWidget()
    height = legend.boundingRect().height()
    holder.setMinimumHeight(height)
    holder.setMaximumHeight(height)
    plot.layout.addItem(holder, 4, 1)
    legend.setParentItem(holder)
    legend.anchor(itemPos=(0.5, 0.0), parentPos=(0.5, 0.0))
    return legend


class HistoryPage(QWidget):
    """Progress charts, the session table, and a past session's trace with replay."""

    def __init__(self, window: Any) -> None:
        super().__init__()
        self.window = window
        self.data: HistoryData | None = None
        self.trace: TraceData | None = None
        self.pause_regions: list[pg.LinearRegionItem] = []  # paused stretches of the trace
        self.replay_from = 0.0
        self.loads = 0
        self._task: Task | None = None

        self.only_me = QCheckBox("Only my sessions")
        self.only_me.setChecked(True)
        self.only_me.toggled.connect(self.refresh)
        self.count = QLabel()
        self.reindex_button = QPushButton("Rebuild index from recordings")
        self.reindex_button.setToolTip("Re-read every recording folder (the files are the truth)")
        self.reindex_button.clicked.connect(self.rebuild)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Your progress</b>"))
        top.addWidget(self.only_me)
        top.addWidget(self.count, 1)
        top.addWidget(self.reindex_button)

        self.progress_plot = pg.PlotWidget()
        pp = self.progress_plot.getPlotItem()
        pp.setTitle("Progress across sessions")
        pp.setYRange(0, 1, padding=0.05)
        pp.setLabel("bottom", "session")
        pp.showGrid(x=False, y=True, alpha=0.2)
        self.focus_line = pp.plot(pen=pg.mkPen("#1e88e5", width=2), symbol="o", symbolSize=8,
                                  symbolBrush="#1e88e5")
        self.above_line = pp.plot(pen=pg.mkPen("#43a047", width=2, style=Qt.PenStyle.DashLine),
                                  symbol="t", symbolSize=8, symbolBrush="#43a047")
        self.legend = legend_below(pp, ((self.focus_line, "mean focus"),
                                        (self.above_line, "share of time on target")))
        self.days_plot = pg.PlotWidget()
        dp = self.days_plot.getPlotItem()
        dp.setTitle("Minutes trained per day")
        self.day_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=pg.mkBrush("#b39ddb"))
        dp.addItem(self.day_bars)
        self.day_labels: list[pg.TextItem] = []
        for plot in (self.progress_plot, self.days_plot):
            plot.getPlotItem().setMenuEnabled(False)
            plot.getPlotItem().hideButtons()
            plot.getPlotItem().setMouseEnabled(x=False, y=False)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.cellDoubleClicked.connect(lambda *_: self.open_selected())

        self.open_button = QPushButton("Show focus trace")
        self.replay_button = QPushButton("Replay through the live view")
        self.open_button.clicked.connect(self.open_selected)
        self.replay_button.clicked.connect(self.replay_selected)
        for b in (self.open_button, self.replay_button):
            b.setEnabled(False)
        self.trace_plot = pg.PlotWidget()
        tp = self.trace_plot.getPlotItem()
        tp.setTitle(TRACE_PROMPT)
        tp.setYRange(0, 1, padding=0.05)
        tp.setLabel("bottom", "time in session (s) — click to replay from there")
        tp.setMenuEnabled(False)
        self.trace_plot.scene().sigMouseClicked.connect(self._trace_clicked)
        self._from_line = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("#6a1b9a", width=2))
        self.trace_info = QLabel()
        self.trace_info.setWordWrap(True)

        # side by side: on a laptop screen both keep a readable height above the table
        charts = QWidget()
        cl = QHBoxLayout(charts)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.progress_plot, 3)
        cl.addWidget(self.days_plot, 2)
        lower = QWidget()
        ll = QVBoxLayout(lower)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.replay_button)
        buttons.addStretch(1)
        ll.addLayout(buttons)
        ll.addWidget(self.trace_plot, 1)
        ll.addWidget(self.trace_info)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(charts)
        split.addWidget(lower)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)

    # -- loading ----------------------------------------------------------------------------
    @property
    def sessions(self) -> tuple:
        """The sessions shown, oldest first."""
        return () if self.data is None else self.data.sessions

    def showEvent(self, event: Any) -> None:
        """Reload whenever the page is shown."""
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        """Reload the sessions from the library (on a worker thread)."""
        user = self.window.settings.user if self.only_me.isChecked() else None
        self.count.setText("loading…")
        self._task = start_task(Task(read_history, self.window.library_path, user,
                                     on_done=self._loaded, on_error=self._failed))

    def _failed(self, message: str) -> None:
        self.count.setText("")
        self.window.show_problem(f"Session library: {message}", "error")

    def _loaded(self, data: HistoryData) -> None:
        self.data = data
        self.loads += 1
        n = len(data.sessions)
        total = sum(s.duration_s for s in data.sessions)
        self.count.setText(f"{n} session{'s' if n != 1 else ''}, {fmt_duration(total)} in all, "
                           f"over {len(data.days)} day{'s' if len(data.days) != 1 else ''}")
        self._fill_table(data.sessions)
        self._draw_progress(data)
        if self.trace is not None and not any(
                s.recording_path and Path(s.recording_path) == Path(self.trace.path)
                for s in data.sessions):
            self.clear_trace()  # its session is not listed any more (another user's)

    def clear_trace(self) -> None:
        """Show no session's trace: empty plot, the prompt as title, no info, replay from 0."""
        self.trace = None
        pi = self.trace_plot.getPlotItem()
        pi.clear()
        pi.setTitle(TRACE_PROMPT)
        pi.setXRange(0, 1, padding=0)  # no session's time axis
        self.trace_info.setText("")
        self.set_replay_from(0.0)
        self.replay_button.setText("Replay through the live view")

    def _fill_table(self, sessions: tuple) -> None:
        """One row per session, newest first; a session without reward feedback (a
        calibration) leaves the reward columns empty."""
        self.table.setRowCount(len(sessions))
        for row, s in enumerate(reversed(sessions)):
            rewarded = gives_rewards(s.exercise)
            rewards = (fmt_fraction(s.fraction_above), str(s.rewards), str(s.points),
                       str(s.longest_streak)) if rewarded else ("",) * 4
            cells = (
                s.started_at.replace("T", " ")[:16], s.exercise, fmt_duration(s.duration_s),
                fmt_focus(s.mean_focus), *rewards, fmt_focus(s.quality), s.model,
                Path(s.recording_path).name if s.recording_path else "",
            )
            tip = "; ".join(t for t in (
                "" if rewarded else "A calibration: rest and task blocks, no reward feedback",
                s.notes) if t)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, s.id)
                if tip:
                    item.setToolTip(tip)
                if s.notes:  # a replay, an interrupted session, a note: set apart, said why
                    font = item.font()
                    font.setItalic(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()

    def _draw_progress(self, data: HistoryData) -> None:
        n = len(data.sessions)
        x = np.arange(1, n + 1, dtype=float)
        focus = np.array([np.nan if s.mean_focus is None else s.mean_focus
                          for s in data.sessions], dtype=float)
        # the share of time on target of sessions with reward feedback (not calibrations)
        above = np.array([np.nan if s.fraction_above is None or not gives_rewards(s.exercise)
                          else s.fraction_above for s in data.sessions], dtype=float)
        ok_f, ok_a = np.isfinite(focus), np.isfinite(above)
        self.focus_line.setData(x[ok_f], focus[ok_f])
        self.above_line.setData(x[ok_a], above[ok_a])
        pp = self.progress_plot.getPlotItem()
        pp.setXRange(0.5, max(n, 2) + 0.5, padding=0)
        step = max(1, n // 12)
        pp.getAxis("bottom").setTicks([[(i, str(i)) for i in range(1, n + 1, step)]])
        days = data.days[-MAX_DAYS:]  # the latest fortnight: older bars would be slivers
        dx = np.arange(len(days), dtype=float)
        minutes = [d.duration_s / 60 for d in days]
        self.day_bars.setOpts(x=dx, height=minutes, width=0.6)
        dp = self.days_plot.getPlotItem()
        for item in self.day_labels:
            dp.removeItem(item)
        self.day_labels = []
        compact = len(days) > FULL_LABEL_DAYS  # narrow bars: the day's mean focus only
        for i, d in enumerate(days):
            focus = "–" if d.mean_focus is None else f"{d.mean_focus:.2f}"
            text = focus if compact else (
                f"focus {focus}, {d.sessions} session{'s' if d.sessions > 1 else ''}")
            # narrow bars: the value stands upright on its bar, so neighbours never overlap
            label = (pg.TextItem(text, color="#333", anchor=(0.0, 0.5), angle=90) if compact
                     else pg.TextItem(text, color="#333", anchor=(0.5, 1.0)))
            label.setPos(i, minutes[i])
            dp.addItem(label)
            self.day_labels.append(label)
        every = max(1, -(-len(days) // 7))  # at most 7 dates under the bars
        dp.getAxis("bottom").setTicks([[(i, d.day[5:]) for i, d in enumerate(days)
                                        if (len(days) - 1 - i) % every == 0]])
        # a short title: a long one widens the chart past its place and cuts its right side
        dp.setTitle("Minutes trained per day" if len(data.days) <= MAX_DAYS
                    else f"Minutes per day, last {MAX_DAYS} days")
        self.days_plot.setToolTip(
            "Minutes trained each day, the day's mean focus above its bar"
            + ("" if len(data.days) <= MAX_DAYS else
               f"; the last {MAX_DAYS} of {len(data.days)} days with sessions"))
        dp.setXRange(-0.8, max(len(days), 3) - 0.2, padding=0)  # room for the last date
        dp.setYRange(0, max([1.0, *minutes]) * (1.6 if compact else 1.35), padding=0)
        dp.setLabel("left", "minutes")

    # -- one session ------------------------------------------------------------------------
    def selected(self) -> Any:
        """The session selected in the table, or None."""
        rows = self.table.selectionModel().selectedRows()
        if not rows or self.data is None:
            return None
        sid = self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        return next((s for s in self.data.sessions if s.id == sid), None)

    def select_row(self, row: int) -> None:
        """Select a table row (0 = the newest session)."""
        self.table.selectRow(row)

    def _selection_changed(self) -> None:
        s = self.selected()
        has_rec = s is not None and bool(s.recording_path) and Path(s.recording_path).exists()
        self.open_button.setEnabled(has_rec)
        self.replay_button.setEnabled(has_rec)

    def open_selected(self) -> None:
        """Read the selected session's recording and draw its focus trace (worker thread)."""
        s = self.selected()
        if s is None or not s.recording_path:
            return
        self.trace_info.setText("reading the recording…")
        start_task(Task(read_trace, s.recording_path, on_done=self._draw_trace,
                        on_error=lambda m: self.trace_info.setText(f"Cannot read it: {m}")))

    def _trace_clicked(self, event: Any) -> None:
        if self.trace is None:
            return
        vb = self.trace_plot.getPlotItem().getViewBox()
        x = vb.mapSceneToView(event.scenePos()).x()
        self.set_replay_from(x)

    def set_replay_from(self, t_s: float) -> None:
        """Start the next replay ``t_s`` seconds into the session shown."""
        end = self.trace.duration_s if self.trace is not None else 0.0
        self.replay_from = min(max(float(t_s), 0.0), end)
        self._from_line.setPos(self.replay_from)
        self.replay_button.setText(f"Replay from {fmt_duration(self.replay_from)} "
                                   "through the live view")

    def _draw_trace(self, tr: TraceData) -> None:
        self.trace = tr
        pi = self.trace_plot.getPlotItem()
        pi.clear()
        pi.addItem(self._from_line)
        self.set_replay_from(0.0)
        shaded: dict[str, str] = {}  # what the caption names, and its colour
        for b in tr.blocks:
            shade = block_shade(b.label)
            if shade is None:
                continue
            name, (fill, colour) = shade
            shaded.setdefault(name, colour)
            region = pg.LinearRegionItem((b.start_s, b.end_s), movable=False,
                                         brush=pg.mkBrush(*fill))
            region.setZValue(-10)
            pi.addItem(region)
        self.pause_regions = []
        for a, b in tr.pauses:  # paused time: greyed (the summary's chart leaves it out)
            region = pg.LinearRegionItem((a, b), movable=False, brush=pg.mkBrush(*PAUSE_SHADE))
            region.setZValue(-5)
            pi.addItem(region)
            self.pause_regions.append(region)
        pi.plot(tr.t, tr.focus, pen=pg.mkPen("#1e88e5", width=2), connect="finite")
        if tr.thresholds:
            tt = [t for t, _ in tr.thresholds] + [tr.duration_s]
            tv = [v for _, v in tr.thresholds]
            pi.plot(tt, [*tv, tv[-1]], stepMode="right", pen=pg.mkPen("#d32f2f", width=2))
        if tr.rewards.size:
            pi.plot(tr.rewards, np.full(tr.rewards.size, 0.98), pen=None, symbol="star",
                    symbolSize=12, symbolBrush="#ffb300", symbolPen="#ff8f00")
        pi.setXRange(0, max(tr.duration_s, 1.0), padding=0.01)
        pi.setTitle(f"Focus trace — {Path(tr.path).name}")
        valid = np.isfinite(tr.focus)
        # a session without a threshold (a calibration) had no reward feedback to speak of
        parts = [f"{fmt_duration(tr.duration_s)} recorded, {tr.t.size} updates "
                 f"({valid.sum()} with a focus value)"]
        if tr.thresholds:
            parts.append(f"{tr.rewards.size} rewards (★), threshold in red")
        if tr.pauses:
            paused = sum(b - a for a, b in tr.pauses)
            parts.append(f"paused {fmt_duration(paused)} (grey)")
        if shaded:
            parts.append("blocks shaded ("
                         + ", ".join(f"{n} {c}" for n, c in shaded.items()) + ")")
        text = ", ".join(parts) + "."
        shown = next((x for x in self.sessions if x.recording_path
                      and Path(x.recording_path).resolve() == Path(tr.path).resolve()), None)
        if shown is not None and shown.notes:
            text += f" Note: {shown.notes}."
        self.trace_info.setText(text)

    def replay_selected(self) -> None:
        """Stream the selected session's recording through the live pipeline."""
        s = self.selected()
        if s is not None and s.recording_path and self.window.session_running:
            # the replay takes the stream the session runs on: it would end the session
            self.window.show_problem(REPLAY_WAITS, "warning")
            return
        if s is not None and s.recording_path:
            shown = self.trace is not None and Path(self.trace.path) == Path(s.recording_path)
            self.window.replay(s.recording_path, self.replay_from if shown else 0.0)

    def rebuild(self) -> None:
        """Rebuild the index from the recordings folder (worker thread)."""
        from neurofb import paths

        root = str(paths.data_dir() / "recordings")
        self.reindex_button.setEnabled(False)
        self.count.setText("rebuilding the index…")

        def done(result: Any) -> None:
            self.reindex_button.setEnabled(True)
            failed = len(result.failed)
            self.window.show_problem(
                f"Index rebuilt: {result.indexed} recordings indexed, {result.removed} removed"
                + (f", {failed} unreadable" if failed else ""), "info")
            self.refresh()

        def failed(message: str) -> None:
            self.reindex_button.setEnabled(True)
            self._failed(message)

        start_task(Task(reindex, self.window.library_path, root, on_done=done,
                        on_error=failed))
