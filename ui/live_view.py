"""The live view: scrolling EEG, per-channel quality, band powers, focus meter, attention map.

Chunks and updates arrive as queued signals (:mod:`neurofb_ui.qt_bridge`); the slots only copy
the new samples into preallocated arrays and mark the view dirty. A :class:`QTimer` at ~30 fps
draws the latest state with ``setData`` on curves created once, so drawing cost does not grow
with the data rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen
from PyQt6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from neurofb_ui.eeg_plot import BAD, FAIR, FPS, GOOD, IDLE, EegPlot, cache_axes
from neurofb_ui.headmap import HeadMap

SCALES_UV = (0, 10, 20, 50, 100, 200, 500, 1000)  # 0 = automatic

pg.setConfigOptions(antialias=False, background="w", foreground="#333")


def quality_colour(q: float | None) -> str:
    """Colour of a quality score in [0, 1] (None: no data yet)."""
    if q is None:
        return IDLE
    return GOOD if q >= 0.8 else FAIR if q >= 0.5 else BAD


def band_names(n: int) -> tuple[str, ...]:
    """Names of the engine's bands (``neurofb.dsp.features.BANDS``) for ``n`` bands."""
    from neurofb.dsp.features import BANDS

    names = tuple(BANDS)
    return names[:n] if len(names) >= n else tuple(f"band {i + 1}" for i in range(n))


#: How the focus model's operating mode of an update is shown.
MODE_TEXT = {"cold": "cold mode", "rest": "taking your rest baseline",
             "baseline": "baseline mode", "baseline-failed": "cold mode (no baseline)"}


def next_step(quality: float, channel_quality: Sequence[float], reasons: Sequence[str],
              names: Sequence[str], *, simulated: bool = False) -> str:
    """One line telling a newcomer what to do next, from the signal quality.

    ``simulated``: a test signal (BrainFlow's synthetic board, or a recording of it), which the
    engine scores whatever its quality: saying its focus is not scored would contradict the
    meter.
    """
    if simulated:
        return ("A test signal, not EEG (BrainFlow's synthetic board or a recording of it): "
                "focus is shown and rewarded whatever its quality, to try the app. Connect a "
                "headset to train for real.")
    bad = [f"{n} ({r})" if r else n for n, q, r in zip(names, channel_quality, reasons,
                                                      strict=False) if q < 0.5]
    if quality >= 0.8 and not bad:
        return ("Signal looks good. Next: <b>Calibrate</b> (a few minutes, personalises the "
                "model) or start an exercise on <b>Train</b>.")
    if quality >= 0.5:
        more = f" Check: {', '.join(bad[:4])}{'…' if len(bad) > 4 else ''}." if bad else ""
        return f"Signal is usable; some channels are noisy.{more} Then go to <b>Train</b>."
    return ("Signal is poor: focus is not scored and no reward is given. Check the electrodes "
            f"({', '.join(bad[:4]) or 'see the list'}): contact, cable, muscles relaxed.")


class FocusMeter(QWidget):
    """A vertical meter of focus in [0, 1] with the reward threshold; grey when gated."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(90, 200)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.focus: float | None = None
        self.threshold: float | None = None
        self.reason = "waiting for data"
        self.reason_shown = ""  # the reason as drawn (cut to fit under the bar)
        self._fitted: tuple = ()  # the (text, width, height) reason_shown was fitted for
        self.rewarding = False

    def set_state(self, focus: float | None, *, threshold: float | None = None,
                  reason: str = "", rewarding: bool = False) -> None:
        """Show a focus value (None: gated, with the reason) and the threshold."""
        self.focus = focus
        self.threshold = threshold
        self.reason = reason
        self.rewarding = rewarding
        self.update()

    def paintEvent(self, _event: object) -> None:
        """Draw the meter."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        bar = QRectF(w * 0.25, 28, w * 0.5, h - 64)
        p.setPen(QPen(QColor("#888"), 1))
        p.setBrush(QBrush(QColor("#eceff1")))
        p.drawRoundedRect(bar, 6, 6)
        big = QFont(self.font())
        big.setPointSizeF(self.font().pointSizeF() + 5)
        big.setBold(True)
        if self.focus is not None:
            above = self.threshold is not None and self.focus >= self.threshold
            col = QColor("#43a047" if above else "#1e88e5")
            if self.rewarding:
                col = QColor("#00c853")
            fill = QRectF(bar.left(), bar.bottom() - bar.height() * self.focus, bar.width(),
                          bar.height() * self.focus)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QBrush(col))
            p.drawRoundedRect(fill, 6, 6)
            p.setPen(QColor("#111"))
            p.setFont(big)
            p.drawText(QRectF(0, 0, w, 26), Qt.AlignmentFlag.AlignCenter, f"{self.focus:.2f}")
        else:
            p.setPen(QColor("#777"))
            p.setFont(big)
            p.drawText(QRectF(0, 0, w, 26), Qt.AlignmentFlag.AlignCenter, "–")
        if self.threshold is not None:
            y = bar.bottom() - bar.height() * self.threshold
            p.setPen(QPen(QColor("#d32f2f"), 3))
            p.drawLine(int(bar.left() - 8), int(y), int(bar.right() + 8), int(y))
        p.setFont(self.font())
        p.setPen(QColor("#444"))
        text = "focus" if self.focus is not None else (self.reason or "no focus")
        self.setToolTip(text)
        area = QRectF(4, h - 34, w - 8, 34)  # below the bar: never drawn over it
        key = (text, w, h)
        if key != self._fitted:  # measured once per text and size, not at every frame
            self._fitted = key
            self.reason_shown = fit_text(p.fontMetrics(), text, area)
        p.drawText(area, _REASON_FLAGS, self.reason_shown)
        p.end()


#: How the meter writes its reason under the bar.
_REASON_FLAGS = (Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                 | Qt.TextFlag.TextWordWrap)


def fit_text(metrics: QFontMetrics, text: str, area: QRectF) -> str:
    """``text``, cut short with an ellipsis until it fits ``area`` word-wrapped (the whole
    text is the widget's tooltip)."""
    width = int(2 * area.width())
    shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
    while width > 16 and metrics.boundingRect(area.toRect(), _REASON_FLAGS, shown).height() > (
            area.height()):
        width -= 8
        shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
    return shown


class BandBars(pg.PlotWidget):
    """Relative band power averaged over the good channels, as bars."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bars: pg.BarGraphItem | None = None
        self.heights = np.zeros(0)
        pi = self.getPlotItem()
        pi.setMenuEnabled(False)
        pi.hideButtons()
        pi.setMouseEnabled(x=False, y=False)
        pi.setYRange(0, 0.6, padding=0)
        pi.getAxis("left").enableAutoSIPrefix(False)
        pi.setLabel("left", "relative power")
        cache_axes(pi)
        self.setMinimumHeight(140)

    def set_powers(self, rel_power: np.ndarray) -> None:
        """Show band powers, shape (n_bands,)."""
        n = len(rel_power)
        if self._bars is None or len(self.heights) != n:
            if self._bars is not None:
                self.getPlotItem().removeItem(self._bars)
            cols = ["#5c6bc0", "#26a69a", "#66bb6a", "#ffa726", "#ef5350", "#8d6e63"]
            self._bars = pg.BarGraphItem(
                x=np.arange(n), height=np.zeros(n), width=0.7,
                brushes=[pg.mkBrush(cols[i % len(cols)]) for i in range(n)],
            )
            self.getPlotItem().addItem(self._bars)
            self.getPlotItem().getAxis("bottom").setTicks(
                [list(enumerate(band_names(n)))]
            )
        self.heights = np.asarray(rel_power, dtype=float)
        self._bars.setOpts(height=self.heights)
        top = max(0.6, float(np.max(self.heights)) * 1.1) if n else 0.6
        self.getPlotItem().setYRange(0, top, padding=0)


class QualityPanel(QWidget):
    """One row per channel: a coloured dot, the name and the reason when it is not good."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(4, 4, 4, 4)
        self._grid.setHorizontalSpacing(6)
        self._grid.setVerticalSpacing(1)
        self.rows: list[tuple[QLabel, QLabel]] = []
        self.colours: list[str] = []
        self.reasons: list[str] = []

    def set_channels(self, names: Sequence[str]) -> None:
        """One row per channel, in two columns (three or four for more than 20 channels, so
        a 32-channel board does not make the window taller than a 720-pixel screen)."""
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.rows = []
        n_cols = 2 if len(names) <= 20 else 3 if len(names) <= 30 else 4
        per_col = max(1, -(-len(names) // n_cols))
        for i, name in enumerate(names):
            dot = QLabel("●")
            dot.setStyleSheet(f"color: {IDLE}; font-size: 14px;")
            lab = QLabel(name)
            lab.setMinimumWidth(60 if n_cols == 2 else 44)
            r, c = i % per_col, (i // per_col) * 2
            self._grid.addWidget(dot, r, c)
            self._grid.addWidget(lab, r, c + 1)
            self.rows.append((dot, lab))
        self.colours = [IDLE] * len(names)
        self.reasons = [""] * len(names)

    def set_quality(self, quality: Sequence[float], reasons: Sequence[str]) -> None:
        """Colour each channel by its quality score and show its reason."""
        for i, (dot, lab) in enumerate(self.rows[: len(quality)]):
            col = quality_colour(quality[i])
            reason = reasons[i] if i < len(reasons) else ""
            if col != self.colours[i]:
                dot.setStyleSheet(f"color: {col}; font-size: 14px;")
                self.colours[i] = col
            if reason != self.reasons[i]:
                name = lab.text().split(" ")[0]
                lab.setText(f"{name} ({reason})" if reason else name)
                lab.setToolTip(reason)
                self.reasons[i] = reason


class LiveView(QWidget):
    """The live screen. Feed it with :meth:`on_info`, :meth:`on_chunk` and :meth:`on_update`."""

    frame_drawn = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = None
        self.target = "model"
        self.last_update = None
        self.threshold: float | None = None
        self.frames = 0
        self.updates = 0
        self._update_dirty = False

        self.eeg = EegPlot()
        self.meter = FocusMeter()
        self.bands = BandBars()
        self.quality = QualityPanel()
        self.headmap = HeadMap(title="Model attention")
        self.trace = pg.PlotWidget()
        tp = self.trace.getPlotItem()
        tp.setMenuEnabled(False)
        tp.hideButtons()
        tp.setMouseEnabled(x=False, y=False)
        tp.setYRange(0, 1, padding=0.02)
        tp.setLabel("left", "focus")
        cache_axes(tp)
        self.trace.setMaximumHeight(130)
        self._trace_curve = tp.plot(pen=pg.mkPen("#1e88e5", width=2), connect="finite")
        self._thr_line = pg.InfiniteLine(pos=0.5, angle=0, pen=pg.mkPen("#d32f2f", width=2))
        self._thr_line.setVisible(False)
        tp.addItem(self._thr_line)
        self._trace_t = np.full(600, np.nan)
        self._trace_f = np.full(600, np.nan)
        self._trace_n = 0

        self.scale = QComboBox()
        for uv in SCALES_UV:
            self.scale.addItem("auto" if uv == 0 else f"{uv} µV", uv)
        self.scale.currentIndexChanged.connect(
            lambda i: setattr(self.eeg, "scale_uv", float(self.scale.itemData(i)))
        )
        self.summary = QLabel("Not connected")
        self.summary.setWordWrap(True)
        self.hint = QLabel("Pick a source on the left and press Connect — the demo recording "
                           "and the synthetic board need no headset.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #37474f; padding: 2px;")

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        head = QLabel("<b>EEG</b>")
        top.addWidget(head)
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("scale"))
        top.addWidget(self.scale)
        ll.addLayout(top)
        ll.addWidget(self.hint)
        ll.addWidget(self.eeg, 1)
        ll.addWidget(self.trace)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        box = QGroupBox("Focus")
        QVBoxLayout(box).addWidget(self.meter)
        row.addWidget(box)
        qbox = QGroupBox("Signal quality")
        QVBoxLayout(qbox).addWidget(self.quality)
        row.addWidget(qbox, 1)
        rl.addLayout(row, 3)
        bbox = QGroupBox("Band power")
        QVBoxLayout(bbox).addWidget(self.bands)
        rl.addWidget(bbox, 2)
        rl.addWidget(self.headmap, 3)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(split)

        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / FPS))
        self.timer.timeout.connect(self.draw_frame)
        self.timer.start()

    def on_info(self, info: object) -> None:
        """A new stream: lay out its channels (``info`` is a :class:`neurofb.types.SourceInfo`)."""
        self.info = info
        names = list(info.ch_names)
        self.eeg.set_channels(names, info.sfreq)
        self.quality.set_channels(names)
        self.headmap.set_channels(names)
        self._trace_t[:] = np.nan
        self._trace_f[:] = np.nan
        self._trace_n = 0
        self.last_update = None
        self.summary.setText(
            f"{info.board}: {len(names)} channels at {info.sfreq:g} Hz ({info.unit})"
        )

    def on_chunk(self, chunk: object) -> None:
        """New samples (a :class:`neurofb.types.Chunk`): buffer them for the next frame."""
        self.eeg.append(chunk.data)

    def on_update(self, update: object) -> None:
        """A pipeline update (a :class:`neurofb.types.Update`): keep it for the next frame."""
        self.last_update = update
        self.updates += 1
        i = self._trace_n % len(self._trace_t)
        self._trace_t[i] = update.t
        self._trace_f[i] = np.nan if update.focus is None else update.focus
        self._trace_n += 1
        self._update_dirty = True

    def set_threshold(self, threshold: float | None) -> None:
        """Show the reward threshold on the meter and the focus trace (None hides it)."""
        self.threshold = threshold
        self._thr_line.setVisible(threshold is not None)
        if threshold is not None:
            self._thr_line.setPos(threshold)
        self._update_dirty = True

    def clear(self) -> None:
        """Back to the disconnected state."""
        self.hint.setText("Disconnected. Pick a source on the left and press Connect.")
        self.last_update = None
        self.meter.set_state(None, threshold=self.threshold, reason="not connected")
        self.summary.setText("Not connected")

    def draw_frame(self) -> None:
        """Draw the latest data (called by the ~30 fps timer)."""
        if not self.isVisible():
            return
        drew = self.eeg.draw()
        if self._update_dirty and self.last_update is not None:
            self._update_dirty = False
            self._draw_update(self.last_update)
            drew = True
        if drew:
            self.frames += 1
            self.frame_drawn.emit()

    def _draw_update(self, u: object) -> None:
        self.meter.set_state(u.focus, threshold=self.threshold, reason=u.reason)
        cq = list(u.channel_quality)
        self.quality.set_quality(cq, list(u.channel_reasons))
        self.eeg.set_channel_colours([quality_colour(q) for q in cq])
        rel = np.asarray(u.rel_power, dtype=float)
        if rel.ndim == 2 and rel.size:
            finite = np.isfinite(rel).all(axis=1)  # NaN: a channel without data in the window
            good = (np.asarray(cq) >= 0.5) & finite
            rows = rel[good] if good.any() else rel[finite]
            self.bands.set_powers(rows.mean(axis=0) if len(rows) else np.zeros(rel.shape[1]))
        if u.attention is not None:
            if self.target == "model":
                self.headmap.title = "Model attention"
                caption = ("where the model reads the estimate from (red = most); frontal and "
                           "temporal sites also pick up eye and muscle activity")
            else:
                self.headmap.title = f"Channel weights ({self.target})"
                caption = "each channel's share of the feedback value (red = most)"
            self.headmap.set_values(u.attention, caption=caption)
        else:
            self.headmap.title = "Channel quality"
            self.headmap.set_values(cq, quality=True,
                                    caption="green = clean signal, red = poor "
                                            "(this target has no attention weights)")
        n = min(self._trace_n, len(self._trace_t))
        if n:
            order = np.argsort(self._trace_t[:n])
            t = self._trace_t[:n][order]
            self._trace_curve.setData(t - t[-1], self._trace_f[:n][order])
            self.trace.getPlotItem().setXRange(-60, 0, padding=0)
        q = "good" if u.quality >= 0.8 else "fair" if u.quality >= 0.5 else "poor"
        base = self.summary.text().split(" · ")[0]
        mode = MODE_TEXT.get(getattr(u, "mode", ""), "")
        self.summary.setText(f"{base} · signal {q} ({u.quality:.2f})"
                             + (f" · {mode}" if mode else "")
                             + f" · latency {u.latency_s * 1000:.0f} ms")
        self.hint.setText(next_step(u.quality, cq, list(u.channel_reasons),
                                    list(self.info.ch_names) if self.info else [],
                                    simulated=bool(getattr(self.info, "simulated", False))))
