"""Drawings of the exercises: the focus gauge, the rocket and the clarity scene.

Each canvas draws one engine view record (:mod:`neurofb.practice.exercises`: ``GaugeView``,
``RocketView``, ``ClarityView``) and nothing else: no rule of when to reward lives here. Views
arrive at the pipeline's rate (4/s); a canvas eases what it shows towards the latest view on
each ~30 fps frame (``tick``) so motion looks smooth.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
    QRadialGradient,
)
from PyQt6.QtWidgets import QSizePolicy, QWidget

EASE = 0.18  # fraction of the way to the target per frame (~30 fps)


def scaled_font(widget: QWidget, delta: float, *, bold: bool = False) -> QFont:
    """The widget's font, ``delta`` points larger (at least 6 pt), optionally bold."""
    f = QFont(widget.font())
    f.setPointSizeF(max(6.0, widget.font().pointSizeF() + delta))
    f.setBold(bold)
    return f


def star_path(cx: float, cy: float, r: float, *, points: int = 5) -> QPainterPath:
    """A star polygon centred on (cx, cy) with outer radius r."""
    path = QPainterPath()
    for k in range(2 * points):
        rad = r if k % 2 == 0 else r * 0.45
        a = -math.pi / 2 + k * math.pi / points
        pt = QPointF(cx + rad * math.cos(a), cy + rad * math.sin(a))
        if k == 0:
            path.moveTo(pt)
        else:
            path.lineTo(pt)
    path.closeSubpath()
    return path


class Canvas(QWidget):
    """Base of the exercise drawings: holds the latest view and eases towards it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 260)
        self.view = None
        self.frames = 0

    def set_view(self, view: object) -> None:
        """Adopt the engine's latest view record."""
        self.view = view

    def reset(self) -> None:
        """Forget the last session."""
        self.view = None
        self.update()

    def tick(self) -> None:
        """Advance the easing one frame and repaint."""
        self.frames += 1
        self.update()

    def _message(self, p: QPainter, rect: QRectF, text: str) -> None:
        if not text:
            return
        p.setFont(scaled_font(self, 2, bold=True))
        m = p.fontMetrics()
        w = m.horizontalAdvance(text) + 28
        box = QRectF(rect.center().x() - w / 2, rect.bottom() - 44, w, 32)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawRoundedRect(box, 8, 8)
        p.setPen(QColor("white"))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


class GaugeCanvas(Canvas):
    """A dial from 0 to 1: the needle is focus, the red tick the threshold, green above it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.shown_focus = 0.0
        self.shown_threshold = 0.5

    def reset(self) -> None:
        """Forget the last session: the needle and the threshold start from rest."""
        self.shown_focus = 0.0
        self.shown_threshold = 0.5
        super().reset()

    def tick(self) -> None:
        """Ease the needle and threshold towards the latest view."""
        v = self.view
        if v is not None:
            if v.focus is not None:
                self.shown_focus += EASE * (v.focus - self.shown_focus)
            self.shown_threshold += EASE * (v.threshold - self.shown_threshold)
        super().tick()

    def paintEvent(self, _event: object) -> None:
        """Draw the dial."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor("#fafafa"))
        v = self.view
        r = max(40.0, min((w / 2 - 40) / 1.1, (h - 150) / 1.1))
        cx, cy = w / 2, 60 + r * 1.1
        arc = QRectF(cx - r, cy - r, 2 * r, 2 * r)
        thr = self.shown_threshold
        flash = getattr(v, "flash", 0.0) if v is not None else 0.0
        if flash > 0:
            glow = QRadialGradient(QPointF(cx, cy), r * 1.25)
            glow.setColorAt(0.0, QColor(255, 214, 0, int(140 * flash)))
            glow.setColorAt(1.0, QColor(255, 214, 0, 0))
            p.setBrush(QBrush(glow))
            p.setPen(Qt.PenStyle.NoPen)
            p.drawEllipse(QPointF(cx, cy), r * 1.25, r * 1.25)
        width = max(14.0, r * 0.16)
        for lo, hi, col in ((0.0, thr, "#b0bec5"), (thr, 1.0, "#66bb6a")):
            pen = QPen(QColor(col), width)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            p.setPen(pen)
            start = 180 - 180 * lo
            p.drawArc(arc, int(start * 16), int(-(hi - lo) * 180 * 16))
        # the threshold tick
        a = math.pi * (1 - thr)
        p.setPen(QPen(QColor("#d32f2f"), 4))
        p.drawLine(QPointF(cx + (r - width) * math.cos(a), cy - (r - width) * math.sin(a)),
                   QPointF(cx + (r + width) * math.cos(a), cy - (r + width) * math.sin(a)))
        # hold ring
        if v is not None and getattr(v, "hold_fraction", 0) > 0:
            p.setPen(QPen(QColor("#ffb300"), 6))
            inner = QRectF(cx - r * 0.55, cy - r * 0.55, r * 1.1, r * 1.1)
            p.drawArc(inner, 180 * 16, int(-180 * 16 * v.hold_fraction))
        gated = v is None or v.focus is None
        a = math.pi * (1 - self.shown_focus)
        needle = QColor("#9e9e9e" if gated else "#263238")
        p.setPen(QPen(needle, 6, cap=Qt.PenCapStyle.RoundCap))
        p.drawLine(QPointF(cx, cy), QPointF(cx + r * 0.9 * math.cos(a),
                                            cy - r * 0.9 * math.sin(a)))
        p.setBrush(needle)
        p.drawEllipse(QPointF(cx, cy), 10, 10)
        p.setPen(QColor("#333"))
        p.setFont(scaled_font(self, 1))
        p.drawText(QRectF(cx - r - 40, cy + 6, 80, 20), Qt.AlignmentFlag.AlignCenter, "low")
        p.drawText(QRectF(cx + r - 40, cy + 6, 80, 20), Qt.AlignmentFlag.AlignCenter, "high")
        p.setFont(scaled_font(self, 14, bold=True))
        text = "–" if gated else f"{self.shown_focus:.2f}"
        p.drawText(QRectF(0, cy + 16, w, 46), Qt.AlignmentFlag.AlignCenter, text)
        if v is not None:
            p.setFont(scaled_font(self, 3, bold=True))
            p.setPen(QColor("#2e7d32" if v.on_target else "#555"))
            p.drawText(QRectF(0, 8, w, 30), Qt.AlignmentFlag.AlignCenter, gauge_label(v))
            self._message(p, QRectF(0, 0, w, h), v.message)
        p.end()


def gauge_label(view: Any) -> str:
    """The line above the gauge: what this step's reward earned, else what to do."""
    if view.reward and view.points_awarded:
        gained = view.points_awarded
        return f"+{gained} point{'s' * (gained != 1)}"
    return "On target — hold it!" if view.on_target else "Raise your focus above the line"


class RocketCanvas(Canvas):
    """A rocket in the sky: its height is the engine's altitude; stars are rewards."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        rng = np.random.default_rng(7)
        self._sky_stars = rng.random((70, 3))
        self.shown_altitude = 0.0
        self._burst = 0.0
        self._flame_phase = 0

    def reset(self) -> None:
        """Forget the last session: the rocket starts on the ground, no star burst."""
        self.shown_altitude = 0.0
        self._burst = 0.0
        super().reset()

    def tick(self) -> None:
        """Ease the rocket towards the latest altitude; animate the flame and star bursts."""
        v = self.view
        if v is not None:
            self.shown_altitude += EASE * (v.altitude - self.shown_altitude)
            if v.new_star and self._burst <= 0:
                self._burst = 1.0
        self._burst = max(0.0, self._burst - 0.04)
        self._flame_phase = (self._flame_phase + 1) % 6
        super().tick()

    def set_view(self, view: object) -> None:
        """Adopt a view; a new star starts the burst animation."""
        if view is not None and getattr(view, "new_star", False):
            self._burst = 1.0
        super().set_view(view)

    def paintEvent(self, _event: object) -> None:
        """Draw sky, ground, rocket, flame and the collected stars."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        alt = self.shown_altitude
        sky = QLinearGradient(0, 0, 0, h)
        sky.setColorAt(0.0, QColor(8, 12, 40))
        sky.setColorAt(0.6, QColor(40, 70, 140).darker(int(100 + 60 * alt)))
        sky.setColorAt(1.0, QColor(120, 170, 220).darker(int(100 + 80 * alt)))
        p.fillRect(self.rect(), QBrush(sky))
        p.setPen(Qt.PenStyle.NoPen)
        for x, y, s in self._sky_stars:
            yy = (y * h + alt * h * 0.6) % h
            p.setBrush(QColor(255, 255, 255, int(90 + 140 * s)))
            p.drawEllipse(QPointF(x * w, yy), 1 + 1.5 * s, 1 + 1.5 * s)
        ground_h = 60 * (1 - alt)
        if ground_h > 1:
            p.setBrush(QColor("#2e7d32"))
            p.drawRect(QRectF(0, h - ground_h, w, ground_h))
            p.setBrush(QColor("#1b5e20"))
            p.drawEllipse(QRectF(w * 0.55, h - ground_h - 20, w * 0.6, 60))
        margin_top, margin_bottom = 90, 70
        rx = w * 0.42
        ry = h - margin_bottom - (h - margin_top - margin_bottom) * alt - 40
        v = self.view
        if v is not None and v.best_altitude > 0.02:
            by = h - margin_bottom - (h - margin_top - margin_bottom) * v.best_altitude - 40
            p.setPen(QPen(QColor(255, 255, 255, 110), 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(0, by + 40), QPointF(w, by + 40))
            p.setFont(scaled_font(self, -1))
            p.drawText(QRectF(6, by + 22, 120, 16), Qt.AlignmentFlag.AlignLeft, "best")
        thrust = v is not None and v.thrust
        scale = max(1.0, h / 420)
        p.save()
        p.translate(rx, ry)
        p.scale(scale, scale)
        if thrust:
            flick = 1.0 + 0.15 * math.sin(self._flame_phase)
            flame = QPainterPath()
            flame.moveTo(-10, 34)
            flame.quadTo(0, 34 + 46 * flick, 10, 34)
            grad = QLinearGradient(0, 34, 0, 80)
            grad.setColorAt(0, QColor("#ffeb3b"))
            grad.setColorAt(1, QColor(255, 87, 34, 0))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QBrush(grad))
            p.drawPath(flame)
        body = QPainterPath()
        body.moveTo(0, -40)
        body.cubicTo(18, -22, 16, 10, 12, 34)
        body.lineTo(-12, 34)
        body.cubicTo(-16, 10, -18, -22, 0, -40)
        p.setPen(QPen(QColor("#37474f"), 2))
        p.setBrush(QColor("#eceff1"))
        p.drawPath(body)
        p.setBrush(QColor("#e53935"))
        for side in (-1, 1):
            fin = QPainterPath()
            fin.moveTo(side * 12, 12)
            fin.lineTo(side * 26, 38)
            fin.lineTo(side * 12, 32)
            fin.closeSubpath()
            p.drawPath(fin)
        p.setBrush(QColor("#4fc3f7"))
        p.drawEllipse(QPointF(0, -10), 6, 6)
        p.restore()
        stars = 0 if v is None else v.stars
        if self._burst > 0:
            r = 14 + 40 * (1 - self._burst)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(255, 213, 79, int(230 * self._burst)))
            p.drawPath(star_path(rx + 60, ry - 30 - 30 * (1 - self._burst), r))
        # collected stars along the top
        p.setPen(QPen(QColor("#ff8f00"), 1))
        p.setBrush(QColor("#ffd54f"))
        shown = min(stars, max(1, int((w - 200) // 26)))
        for k in range(shown):
            p.drawPath(star_path(20 + k * 26, 24, 10))
        p.setPen(QColor("white"))
        p.setFont(scaled_font(self, 3, bold=True))
        p.drawText(QRectF(w - 190, 10, 180, 30),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                   f"★ {stars}   {0 if v is None else v.points} pts")
        p.setFont(scaled_font(self, 1))
        p.drawText(QRectF(w - 190, 38, 180, 22),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                   f"altitude {alt * 100:.0f} %")
        if v is not None:
            self._message(p, QRectF(0, 0, w, h), v.message)
        p.end()


def landscape(width: int = 480, height: int = 300, *, seed: int = 3) -> np.ndarray:
    """Draw a landscape procedurally: sky, sun, three mountain ridges, a lake, a shore.

    Returns
    -------
    image : array, shape (height, width, 3), uint8
    """
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None, None]
    img = (1 - y) * np.array([70, 130, 215]) + y * np.array([255, 200, 150])
    img = np.broadcast_to(img, (height, width, 3)).copy()
    yy, xx = np.mgrid[0:height, 0:width]
    sx, sy, sr = width * 0.72, height * 0.28, height * 0.09
    d = np.hypot(xx - sx, yy - sy)
    img += (np.clip(1 - d / (sr * 3.5), 0, 1) ** 2)[..., None] * np.array([80, 60, 10])
    img[d < sr] = [255, 240, 190]
    horizon = int(height * 0.68)

    def ridge(base: float, rough: float, n: int = 9) -> np.ndarray:
        pts = np.array([base, base])
        amp = rough
        for _ in range(n):
            mid = (pts[:-1] + pts[1:]) / 2 + rng.normal(0, amp, len(pts) - 1)
            out = np.empty(2 * len(pts) - 1)
            out[0::2], out[1::2] = pts, mid
            pts, amp = out, amp * 0.55
        return np.interp(np.linspace(0, 1, width), np.linspace(0, 1, len(pts)), pts)

    for base, rough, col in ((0.42, 0.16, (120, 120, 165)), (0.52, 0.12, (80, 100, 120)),
                             (0.60, 0.08, (45, 85, 60))):
        top = ridge(base, rough) * height
        mask = (yy >= top[None, :]) & (yy < horizon)
        shade = 1 - 0.25 * (yy - top[None, :]) / height
        img[mask] = (np.array(col)[None, :] * shade[mask][:, None])
    above = img[horizon - (height - horizon):horizon][::-1]
    water = above[: height - horizon] * 0.55 + np.array([20, 60, 110]) * 0.45
    ripple = 1 + 0.05 * np.sin(np.arange(height - horizon) * 1.7)[:, None, None]
    img[horizon:] = water * ripple
    shore = ridge(0.9, 0.04) * height
    img[yy >= np.maximum(shore[None, :], horizon + 10)] = [60, 110, 50]
    return np.clip(img, 0, 255).astype(np.uint8)


def blur_levels(img: np.ndarray, sigmas: tuple[float, ...]) -> list[QImage]:
    """The image blurred at each sigma (pixels), as QImages (sigma 0 = sharp)."""
    from scipy.ndimage import gaussian_filter

    out = []
    for s in sigmas:
        arr = img if s <= 0 else gaussian_filter(img.astype(np.float32), (s, s, 0))
        arr = np.ascontiguousarray(np.clip(arr, 0, 255).astype(np.uint8))
        h, w, _ = arr.shape
        out.append(QImage(arr.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy())
    return out


class ClarityCanvas(Canvas):
    """A scene that is sharp and bright at clarity 1, blurred and dim at clarity 0."""

    SIGMAS = (0.0, 1.0, 2.0, 3.5, 5.5, 8.0, 11.0)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._blurred: list[QImage] | None = None
        self.shown_clarity = 0.0

    def reset(self) -> None:
        """Forget the last session: the scene starts blurred."""
        self.shown_clarity = 0.0
        super().reset()

    @property
    def _levels(self) -> list[QImage]:
        """The scene at each blur level, made when first drawn (not while the app starts)."""
        if self._blurred is None:
            self._blurred = blur_levels(landscape(), self.SIGMAS)
        return self._blurred

    def tick(self) -> None:
        """Ease the clarity towards the latest view."""
        if self.view is not None:
            self.shown_clarity += EASE * (self.view.clarity - self.shown_clarity)
        super().tick()

    def paintEvent(self, _event: object) -> None:
        """Cross-fade the two nearest blur levels, dim by brightness, glow on rewards."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor("#111"))
        img0 = self._levels[0]
        scale = min(w / img0.width(), h / img0.height())
        tw, th = img0.width() * scale, img0.height() * scale
        target = QRectF((w - tw) / 2, (h - th) / 2, tw, th)
        blur = (1 - self.shown_clarity) * (len(self._levels) - 1)
        lo = min(int(blur), len(self._levels) - 1)
        hi = min(lo + 1, len(self._levels) - 1)
        frac = blur - lo
        p.drawImage(target, self._levels[lo])
        if hi != lo and frac > 0.01:
            p.setOpacity(frac)
            p.drawImage(target, self._levels[hi])
            p.setOpacity(1.0)
        v = self.view
        min_b = 0.35
        brightness = min_b + (1 - min_b) * self.shown_clarity
        if v is not None and v.clarity > 0:
            brightness = v.brightness * self.shown_clarity / max(v.clarity, 1e-6)
            brightness = min(max(brightness, 0.0), 1.0)
        p.fillRect(target, QColor(0, 0, 0, int(255 * (1 - brightness))))
        flash = 0.0 if v is None else v.flash
        if flash > 0:
            p.setPen(QPen(QColor(255, 214, 0, int(255 * flash)), 10))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(target.adjusted(5, 5, -5, -5))
        p.setPen(QColor("white"))
        p.setFont(scaled_font(self, 3, bold=True))
        pts = 0 if v is None else v.points
        p.drawText(QRectF(target.left() + 12, target.top() + 8, 300, 30),
                   Qt.AlignmentFlag.AlignLeft, f"clarity {self.shown_clarity * 100:.0f} %")
        p.drawText(QRectF(target.right() - 212, target.top() + 8, 200, 30),
                   Qt.AlignmentFlag.AlignRight, f"{pts} pts")
        if v is not None:
            self._message(p, target, v.message)
        p.end()
