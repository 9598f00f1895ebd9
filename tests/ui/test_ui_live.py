"""The live view on BrainFlow's real synthetic board and the real-EEG demo, offscreen.

Faults: a board that cannot be opened, a failed model load, and a board that stops delivering
mid-stream (a wrapper around the real synthetic board, the one fault that cannot be produced
for real) are shown in the window while the app keeps running.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from ui_helpers import CONNECT_S, connect

from neurofb.errors import BoardError


def test_connect_synthetic_draws_eeg_quality_bands_and_focus(qtbot, make_window):
    win = make_window()
    connect(qtbot, win)
    live = win.live
    assert live.eeg.n_channels == 16  # BrainFlow's synthetic board: 16 EEG channels
    frames = live.frames
    qtbot.waitUntil(lambda: live.frames >= frames + 10, timeout=20_000)
    assert live.eeg.points_drawn > 16 * 100
    assert set(live.eeg.colours) <= {"#263238", "#e0a100", "#c62828"}
    u = live.last_update
    assert len(u.channel_quality) == 16
    # every channel got a quality colour (not the grey of "no data yet")
    assert all(c != "#9e9e9e" for c in live.quality.colours)
    assert live.bands.heights.size >= 5 and np.all(live.bands.heights >= 0)
    assert live.headmap.values is not None and live.headmap.n_electrodes == 16
    if u.focus is None:
        assert live.meter.focus is None and live.meter.reason
    else:
        assert 0.0 <= live.meter.focus <= 1.0
    assert "16 channels" in live.summary.text()
    # the next step for a newcomer: the synthetic board is scored whatever its quality, so the
    # hint says it is a test signal (not "focus is not scored" beside a meter showing focus)
    assert live.hint.text().startswith("A test signal, not EEG")
    win.disconnect_source()
    qtbot.waitUntil(lambda: win.stream.current_state == "disconnected", timeout=CONNECT_S * 1000)
    assert win.source.button.text() == "Connect"


def test_demo_recording_streams_real_eeg(qtbot, make_window):
    from neurofb_ui.source_panel import demo_path

    if not demo_path():
        pytest.skip("the demo recording is not installed")
    win = make_window()
    assert win.source.spec().kind == "demo"  # first launch: the demo is the default source
    connect(qtbot, win, "demo", file=demo_path())
    assert win.live.eeg.n_channels == len(win.stream.current.info.ch_names)
    qtbot.waitUntil(lambda: win.live.last_update.quality > 0, timeout=20_000)
    win.live.draw_frame()  # draws the last update, hint included
    assert win.live.hint.text().startswith("Signal")  # real EEG: the quality decides


def test_unknown_board_device_shows_error_and_app_keeps_running(qtbot, make_window):
    from neurofb_ui.source_panel import SourceSpec

    win = make_window()
    win.connect_source(SourceSpec(kind="board", board="cyton",
                                  fields={"serial_port": "/dev/does-not-exist", "timeout": "1"}))
    qtbot.waitUntil(lambda: win.stream.current_state == "error", timeout=CONNECT_S * 1000)
    assert win.banner.isVisible() and "Could not connect" in win.banner.label.text()
    assert "error" in win.source.state.text()
    connect(qtbot, win)  # the app still works
    assert not win.banner.isVisible() or "connect" not in win.banner.label.text().lower()


def test_bad_numeric_field_is_a_clear_error(qtbot, make_window):
    from neurofb_ui.source_panel import SourceSpec

    win = make_window()
    win.connect_source(SourceSpec(kind="board", board="synthetic", fields={"ip_port": "abc"}))
    qtbot.waitUntil(lambda: win.stream.current_state == "error", timeout=CONNECT_S * 1000)
    assert "ip port must be a number" in win.banner.label.text()


def test_failed_model_load_falls_back_and_is_shown(qtbot, make_window, tmp_path):
    win = make_window(target="model", model_dir=str(tmp_path / "no-such-model"))
    connect(qtbot, win)
    assert win.stream.current.estimator_name == "engagement"
    assert win.banner.isVisible() and "could not load" in win.banner.label.text()
    assert win.banner.level == "warning"


class DyingSource:
    """The real synthetic board, made to stop delivering for a while (an unplugged cable)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.info = inner.info
        self.dead_until = 0.0

    def unplug(self, seconds: float) -> None:
        self.dead_until = time.monotonic() + seconds

    def start(self):
        self.inner.start()

    def stop(self):
        self.inner.stop()

    def restart(self):
        self.inner.restart()

    def read(self):
        chunk = self.inner.read()
        if time.monotonic() < self.dead_until:
            raise BoardError("synthetic stopped delivering data: cable pulled (test)")
        return chunk


def test_lost_board_is_shown_and_stream_resumes(qtbot, make_window, monkeypatch):
    import neurofb.stream.assemble as assemble

    real = assemble.make_source
    made = []
    monkeypatch.setattr(assemble, "make_source",
                        lambda request: made.append(DyingSource(real(request))) or made[-1])
    win = make_window()
    connect(qtbot, win)
    states = []
    win.stream.state.connect(lambda s, _m: states.append(s))
    made[0].unplug(2.0)
    qtbot.waitUntil(lambda: "reconnecting" in states, timeout=CONNECT_S * 1000)
    assert "stopped delivering" in win.banner.label.text()
    assert win.source.state.text().count("reconnecting")
    qtbot.waitUntil(lambda: states[-1] == "connected", timeout=CONNECT_S * 1000)
    assert not win.banner.isVisible()
    n = win.live.updates
    qtbot.waitUntil(lambda: win.live.updates > n + 2, timeout=CONNECT_S * 1000)


def test_head_map_caption_wraps_to_the_width_and_is_drawn_whole(qtbot):
    from PyQt6.QtGui import QColor

    from neurofb.dsp.montage import PRESETS
    from neurofb_ui.headmap import HeadMap

    head = HeadMap(title="Model attention")
    qtbot.addWidget(head)
    names = list(PRESETS["full"])
    head.set_channels(names)
    caption = ("where the model reads the estimate from (red = most); frontal and temporal "
               "sites also pick up eye and muscle activity")
    head.set_values(np.linspace(0.0, 1.0, len(names)), caption=caption)
    one_line = head.caption_height(5000)
    assert one_line > 0
    assert head.caption_height(300) >= 2 * (one_line - 4)  # wrapped onto several lines
    head.resize(300, 420)
    image = head.grab().toImage()
    # The caption's band under the head holds text (dark pixels) and the head sits above it.
    band = range(420 - head.caption_height(300), 420)
    dark = sum(QColor(image.pixel(x, y)).lightness() < 128 for y in band for x in range(300))
    assert dark > 50
    head.set_values(np.linspace(0.0, 1.0, len(names)), caption="")
    assert head.caption_height(300) == 0
