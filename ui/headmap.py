"""A head seen from above with a value per electrode: the model's attention over channels.

Electrode positions come from :mod:`neurofb.dsp.montage` (MNE's 10-05 template), projected onto the
disc with an azimuthal equidistant projection (the top of the head in the centre, the ears'
level on the rim), as MNE's topomaps do. Values between electrodes are filled by inverse-distance
weighting for the picture only; the weights are computed once per channel set so a redraw is one
small matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PyQt6.QtCore import QPointF, QRect, QRectF, Qt
from PyQt6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
)
from PyQt6.QtWidgets import QSizePolicy, QWidget

from neurofb.dsp import montage

_GRID = 72
_CAPTION_FLAGS = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                     | Qt.TextFlag.TextWordWrap)
_LANDMARKS = ("T7", "T8", "Fpz", "Oz")

# A perceptually ordered blue → yellow → red map (anchors of a "turbo"-like ramp).
_ANCHORS = np.array(
    [
        [48, 18, 59], [70, 107, 227], [40, 188, 235], [50, 241, 152],
        [164, 252, 59], [237, 208, 58], [251, 128, 34], [210, 49, 5], [122, 4, 3],
    ],
    dtype=np.float64,
)


# Signal quality: red (poor) → amber → green (good).
_QUALITY = np.array([[198, 40, 40], [224, 161, 0], [46, 125, 50]], dtype=np.float64)


def colormap(values: np.ndarray, anchors: np.ndarray = _ANCHORS) -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 colours, shape ``values.shape + (3,)``."""
    v = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0) * (len(anchors) - 1)
    lo = np.floor(v).astype(int)
    hi = np.minimum(lo + 1, len(anchors) - 1)
    frac = (v - lo)[..., None]
    return (anchors[lo] * (1 - frac) + anchors[hi] * frac).astype(np.uint8)


def project(names: Sequence[str]) -> tuple[np.ndarray, list[int]]:
    """Project the known electrodes among ``names`` onto the unit disc.

    Returns
    -------
    xy : array, shape (n_known, 2)
        Positions on the disc (x right, y front); the rim is the level of Fpz, T7, Oz, T8.
    index : list of int
        Index in ``names`` of each projected electrode.
    """
    keep = [i for i, n in enumerate(names) if montage.normalise_name(n) is not None]
    if not keep:
        return np.zeros((0, 2)), []
    land = montage.positions(_LANDMARKS)
    centre = land.mean(axis=0)

    def polar(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = pos - centre
        r = np.linalg.norm(pos, axis=1)
        theta = np.arccos(np.clip(pos[:, 2] / np.maximum(r, 1e-9), -1, 1))
        return theta, np.arctan2(pos[:, 1], pos[:, 0])

    rim = float(polar(land)[0].mean())  # the landmarks' ring is the rim of the disc
    theta, phi = polar(montage.positions([names[i] for i in keep]))
    rad = theta / rim
    return np.column_stack([rad * np.cos(phi), rad * np.sin(phi)]), keep


class HeadMap(QWidget):
    """Draw one value per electrode on a head, interpolated between electrodes.

    ``set_channels`` once per stream, then ``set_values`` whenever new values arrive; the widget
    repaints itself (at most as often as values arrive).
    """

    def __init__(self, parent: QWidget | None = None, *, title: str = "") -> None:
        super().__init__(parent)
        self.setMinimumSize(180, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.title = title
        self.caption = ""
        self._caption_layout: tuple[object, int] = (None, 0)  # (caption, width, font) → px
        self._names: list[str] = []
        self._xy = np.zeros((0, 2))
        self._index: list[int] = []
        self._weights: np.ndarray | None = None
        self._rim = 1.0
        self._inside: np.ndarray | None = None
        self._image: QImage | None = None
        self._values: np.ndarray | None = None

    @property
    def n_electrodes(self) -> int:
        """How many of the stream's channels are drawn (the known 10-20 electrodes)."""
        return len(self._index)

    @property
    def values(self) -> np.ndarray | None:
        """The values drawn, normalised to [0, 1], per drawn electrode."""
        return None if self._values is None else self._values.copy()

    def set_channels(self, names: Sequence[str]) -> None:
        """Place the stream's channels; channels that are not electrodes are left out."""
        self._names = list(names)
        self._xy, self._index = project(self._names)
        far = float(np.hypot(self._xy[:, 0], self._xy[:, 1]).max()) if len(self._index) else 0
        self._rim = max(1.0, far + 0.08)
        g = np.linspace(-self._rim, self._rim, _GRID)
        gx, gy = np.meshgrid(g, -g)  # rows top (front) to bottom (back)
        pts = np.column_stack([gx.ravel(), gy.ravel()])
        self._inside = (np.hypot(pts[:, 0], pts[:, 1]) <= self._rim).reshape(_GRID, _GRID)
        if len(self._index):
            d = np.linalg.norm(pts[:, None, :] - self._xy[None, :, :], axis=2)
            w = 1.0 / np.maximum(d, 0.03) ** 2
            self._weights = w / w.sum(axis=1, keepdims=True)
        else:
            self._weights = None
        self._values = None
        self._image = None
        self.update()

    def set_values(self, values: Sequence[float] | None, *, caption: str = "",
                   quality: bool = False) -> None:
        """Show one value per stream channel.

        Parameters
        ----------
        values : sequence of float, length n_channels, or None
            A value per channel of the stream; None clears.
        caption : str
            Text under the head (what the colours mean), wrapped to the widget's width.
        quality : bool
            Values are quality scores in [0, 1], drawn red (poor) to green (good) as they are;
            otherwise (attention weights) they are drawn relative to their range, blue to red.
        """
        self.caption = caption
        if values is None or self._weights is None:
            self._values = None
            self._image = None
            self.update()
            return
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (len(self._names),):
            raise ValueError(f"expected {len(self._names)} values, got shape {v.shape}")
        v = v[self._index]
        if quality:
            norm = np.clip(v, 0.0, 1.0)
        else:
            lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
            norm = (v - lo) / (hi - lo) if hi - lo > 1e-12 else np.full_like(v, 0.5)
        self._values = norm
        grid = (self._weights @ norm).reshape(_GRID, _GRID)
        rgba = np.zeros((_GRID, _GRID, 4), dtype=np.uint8)
        rgba[..., :3] = colormap(grid, _QUALITY if quality else _ANCHORS)
        rgba[..., 3] = np.where(self._inside, 255, 0)
        img = QImage(rgba.tobytes(), _GRID, _GRID, 4 * _GRID, QImage.Format.Format_RGBA8888)
        self._image = img.copy()
        self.update()

    def caption_height(self, width: int) -> int:
        """Pixels the caption takes under the head at ``width`` (wrapped; 0 without one).

        Laid out once per caption, width and font: paints between changes reuse it."""
        if not self.caption:
            return 0
        key = (self.caption, width, self.font().key())
        if self._caption_layout[0] != key:
            metrics = QFontMetrics(self.font())
            box = metrics.boundingRect(QRect(0, 0, max(1, width - 8), 10_000),
                                       _CAPTION_FLAGS, self.caption)
            self._caption_layout = (key, box.height() + 4)
        return self._caption_layout[1]

    def paintEvent(self, _event: object) -> None:
        """Draw the head, the interpolated values, the electrodes and their names."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        top = 18 if self.title else 4
        bottom = self.caption_height(w) or 4
        size = min(w, h - top - bottom) - 24
        if size < 40:
            return
        cx, cy, r = w / 2, top + 12 + size / 2, size / 2
        if self.title:
            p.setPen(QColor("#333"))
            f = QFont(self.font())
            f.setBold(True)
            p.setFont(f)
            p.drawText(QRectF(0, 0, w, top), Qt.AlignmentFlag.AlignCenter, self.title)
            p.setFont(self.font())
        scale = r / self._rim
        pen = QPen(QColor("#555"), 2)
        # nose and ears
        nose = QPainterPath()
        nose.moveTo(cx - 0.12 * r, cy - 0.99 * r)
        nose.lineTo(cx, cy - 1.15 * r)
        nose.lineTo(cx + 0.12 * r, cy - 0.99 * r)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(nose)
        for side in (-1, 1):
            p.drawEllipse(QRectF(cx + side * r - 0.07 * r, cy - 0.18 * r, 0.14 * r, 0.36 * r))
        p.setBrush(QBrush(QColor("#f4f4f4")))
        p.drawEllipse(QPointF(cx, cy), r, r)
        if self._image is not None:
            ext = r
            p.save()
            clip = QPainterPath()
            clip.addEllipse(QPointF(cx, cy), r, r)
            p.setClipPath(clip)
            p.drawImage(QRectF(cx - ext, cy - ext, 2 * ext, 2 * ext), self._image)
            p.restore()
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(QPointF(cx, cy), r, r)
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, self.font().pointSizeF() - 2))
        p.setFont(small)
        dot = max(3.0, r * 0.035)
        for k, (x, y) in enumerate(self._xy):
            px, py = cx + x * scale, cy - y * scale
            p.setPen(QPen(QColor("#222"), 1))
            p.setBrush(QBrush(QColor("#222")))
            p.drawEllipse(QPointF(px, py), dot, dot)
            p.setPen(QColor("#111"))
            name = self._names[self._index[k]]
            p.drawText(QRectF(px - 30, py + dot, 60, 14), Qt.AlignmentFlag.AlignHCenter, name)
        if self.caption:
            p.setPen(QColor("#444"))
            p.setFont(self.font())
            p.drawText(QRect(4, h - bottom, max(1, w - 8), bottom), _CAPTION_FLAGS, self.caption)
        p.end()
