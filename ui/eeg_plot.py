"""The scrolling multichannel EEG plot of the live view.

Samples go into a preallocated ring buffer; each ~30 fps frame reduces the visible window to
about two points per pixel (min/max per bucket) and hands each quality colour's channels to one
curve item, so the cost of a frame does not grow with the channel count or the data rate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QWidget

FPS = 30
MAX_GLIDE_S = 0.25
GOOD, FAIR, BAD, IDLE = "#2e7d32", "#e0a100", "#c62828", "#9e9e9e"
INK = "#263238"  # traces of good channels


def cache_axes(plot_item: pg.PlotItem) -> None:
    """Cache the rendered axes as pixmaps: they rarely change, while curves change each frame."""
    for name in ("left", "bottom"):
        plot_item.getAxis(name).setCacheMode(
            pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


def peak_decimate(x: np.ndarray, y: np.ndarray, width_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce curves to about two points per pixel, keeping each bucket's min and max.

    Parameters
    ----------
    x : array, shape (n,)
        Shared x values.
    y : array, shape (n_curves, n)
        Curves (NaN where there is no data yet).
    width_px : int
        Width of the plot in pixels.

    Returns
    -------
    x, y : arrays, shapes (m,) and (n_curves, m)
        With ``m`` about ``2 * width_px`` (or the input when it is short enough).
    """
    n = y.shape[1]
    bucket = n // max(width_px, 50)
    if bucket < 2:
        return x, y
    m = n // bucket
    start = n - m * bucket
    blocks = y[:, start:].reshape(y.shape[0], m, bucket)
    out = np.empty((y.shape[0], 2 * m), dtype=y.dtype)
    out[:, 0::2] = blocks.min(axis=2)
    out[:, 1::2] = blocks.max(axis=2)
    xb = x[start:].reshape(m, bucket)
    xo = np.empty(2 * m, dtype=x.dtype)
    xo[0::2] = xb[:, 0]
    xo[1::2] = xb[:, -1]
    return xo, out


class EegPlot(pg.PlotWidget):
    """Scrolling multichannel EEG, stacked in lanes.

    Channels are drawn by one curve item per quality colour (at most four), each holding its
    channels as separate runs (a ``connect`` mask), so a frame costs a handful of item updates
    whatever the channel count.
    """

    def __init__(self, parent: QWidget | None = None, *, seconds: float = 8.0) -> None:
        super().__init__(parent)
        self.seconds = seconds
        self.scale_uv = 0.0
        self._auto_uv = 50.0
        self._names: list[str] = []
        self._groups: dict[str, pg.PlotCurveItem] = {}
        self.colours: list[str] = []
        self.points_drawn = 0
        self._buf = np.zeros((0, 0), dtype=np.float32)
        self._pos = 0
        self._filled = 0
        self._x = np.zeros(0)
        self._dirty = False
        self._frames_since_scale = 0
        self._appended_at = 0.0
        self._shift = 0.0
        pi = self.getPlotItem()
        pi.setMenuEnabled(False)
        pi.hideButtons()
        pi.setMouseEnabled(x=False, y=False)
        pi.showGrid(x=True, y=False, alpha=0.2)
        pi.setLabel("bottom", "time (s)")
        cache_axes(pi)
        for col in (INK, FAIR, BAD, IDLE):
            item = pg.PlotCurveItem(pen=pg.mkPen(col, width=1))
            pi.addItem(item)
            self._groups[col] = item

    @property
    def n_channels(self) -> int:
        """Number of channels drawn."""
        return len(self._names)

    @property
    def samples_seen(self) -> int:
        """Samples held in the display buffer (up to its length)."""
        return self._filled

    def set_channels(self, names: Sequence[str], sfreq: float) -> None:
        """Lay out one lane per channel for a stream at ``sfreq`` Hz."""
        pi = self.getPlotItem()
        n = max(2, round(self.seconds * sfreq))
        self._names = list(names)
        self._buf = np.full((len(names), n), np.nan, dtype=np.float32)
        self._pos = 0
        self._filled = 0
        self._x = np.linspace(-self.seconds, 0.0, n)
        self.colours = [INK] * len(names)
        for item in self._groups.values():
            item.setData([], [])
        ticks = [(-(i), name) for i, name in enumerate(names)]
        pi.getAxis("left").setTicks([ticks])
        pi.setYRange(-len(names) + 0.4, 0.6, padding=0)
        pi.setXRange(-self.seconds, 0, padding=0)
        self._dirty = True

    def append(self, data: np.ndarray) -> None:
        """Add samples, shape (n_channels, n_samples) in µV, to the ring buffer."""
        if data.shape[0] != self._buf.shape[0] or not data.shape[1]:
            return
        n = self._buf.shape[1]
        m = data.shape[1]
        if m >= n:
            self._buf[:] = data[:, -n:]
            self._pos = 0
        else:
            end = self._pos + m
            if end <= n:
                self._buf[:, self._pos:end] = data
            else:
                k = n - self._pos
                self._buf[:, self._pos:] = data[:, :k]
                self._buf[:, : m - k] = data[:, k:]
            self._pos = end % n
        self._filled = min(n, self._filled + m)
        self._dirty = True
        self._appended_at = time.monotonic()

    def set_channel_colours(self, colours: Sequence[str]) -> None:
        """Colour each channel's trace by its quality (good channels stay ink-dark)."""
        new = [INK if c == GOOD else c for c in colours[: len(self._names)]]
        new += [INK] * (len(self._names) - len(new))
        if new != self.colours:
            self.colours = new
            self._dirty = True

    def draw(self) -> bool:
        """Redraw if new samples arrived since the last frame; return whether it drew.

        Sources deliver chunks (a replay every 0.1 s, boards every few tens of ms); between
        chunks the curves glide left by the time since the last chunk (at most
        ``MAX_GLIDE_S``), so the trace scrolls smoothly at the frame rate.
        """
        if not self._names or not self._filled:
            return False
        if not self._dirty:
            glide = min(time.monotonic() - self._appended_at, MAX_GLIDE_S)
            if glide - self._shift > 1e-3:
                self._shift = glide
                for item in self._groups.values():
                    item.setPos(-glide, 0)
                return True
            return False
        self._dirty = False
        self._shift = 0.0
        buf = self._buf
        valid = np.concatenate((buf[:, self._pos:], buf[:, : self._pos]), axis=1)
        valid = valid[:, -self._filled:]
        centre = valid.mean(axis=1, keepdims=True)
        self._frames_since_scale += 1
        if self.scale_uv <= 0 and self._frames_since_scale >= FPS // 2:
            self._frames_since_scale = 0
            spread = np.median((valid - centre).std(axis=1))
            if np.isfinite(spread) and spread > 0:
                self._auto_uv = float(spread) * 6.0
        per_div = self.scale_uv if self.scale_uv > 0 else self._auto_uv
        # Each trace keeps to its own lane: larger excursions are clipped for the picture.
        lanes = np.clip((valid - centre) / per_div, -0.7, 0.7)
        width = int(self.getPlotItem().getViewBox().width() * self._filled / len(self._x))
        x, lanes = peak_decimate(self._x[-self._filled:], lanes, width)
        m = x.size
        self.points_drawn = 0
        for col, item in self._groups.items():
            idx = [i for i, c in enumerate(self.colours) if c == col]
            if not idx:
                item.setData([], [])
                continue
            y = (lanes[idx] - np.asarray(idx, dtype=np.float32)[:, None]).ravel()
            connect = np.ones(y.size, dtype=bool)
            connect[m - 1::m] = False  # each channel is its own run
            item.setData(np.tile(x, len(idx)), y, connect=connect)
            item.setPos(0, 0)
            self.points_drawn += y.size
        return True
