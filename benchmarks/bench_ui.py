"""The app's live view: frame time and CPU while a real board streams, offscreen.

The real main window (``neurofb_ui``) connects to BrainFlow's synthetic board (16 EEG channels
at 250 Hz) — and to the shipped real-EEG demo recording (19 channels) when it is installed — and
the engine runs on its own thread as in the app. The view's own ~30 fps timer is replaced by
the benchmark's (same rate), and the paint handlers of the plots and drawn widgets are timed, so
a frame's time is what the GUI thread spends on it: preparing the curves plus painting the page
(EEG, focus trace, band bars, focus meter, head map), whenever Qt paints it. Reported: frame
time p50/p99 in ms, frames painted per second (EEG plot repaints), and the process's CPU use
(all threads, engine included) in % of one core.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

NAME = "ui"
DESCRIPTION = "app live view offscreen: frame time p50/p99 (ms), fps, process CPU % (16 ch 250 Hz)"

TARGET_FPS = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``neurofb bench ui``."""
    parser.add_argument("--ui-seconds", type=float, default=20.0,
                        help="ui: seconds of streaming measured per source (default 20)")


def _measure(app: object, kind: str, seconds: float) -> dict:
    import pyqtgraph as pg
    from PyQt6.QtCore import QEventLoop, Qt, QTimer

    from neurofb_ui.headmap import HeadMap
    from neurofb_ui.live_view import FocusMeter
    from neurofb_ui.main_window import MainWindow
    from neurofb_ui.settings import AppSettings
    from neurofb_ui.source_panel import SourceSpec, demo_path

    settings = AppSettings(source=kind)  # the default feedback: the shipped model
    win = MainWindow(settings)
    win.resize(1400, 900)
    win.show()
    live = win.live
    live.timer.stop()
    spec = SourceSpec(kind=kind, file=demo_path() if kind == "demo" else "")
    win.connect_source(spec)

    def spin(until: object, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while not until() and time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.005)

    spin(lambda: win.stream.current is not None and live.updates > 2, 60.0)
    if win.stream.current is None:
        state = win.stream.current_state
        win.close()
        raise RuntimeError(f"could not connect to {kind}: {state}")
    info = win.stream.current.info
    feedback = win.stream.current.estimator_name
    frame_ms: list[float] = []
    paint = {"s": 0.0, "eeg": 0, "draw": None}

    def frame() -> None:
        if paint["draw"] is not None:  # the previous frame: its drawing and painting
            frame_ms.append((paint["draw"] + paint["s"]) * 1000.0)
        paint["s"] = 0.0
        t0 = time.perf_counter()
        live.draw_frame()
        paint["draw"] = time.perf_counter() - t0

    def timed(cls: type) -> object:
        original = cls.paintEvent

        def paint_event(self: object, event: object) -> None:
            t0 = time.perf_counter()
            original(self, event)
            paint["s"] += time.perf_counter() - t0
            if self is live.eeg:
                paint["eeg"] += 1

        cls.paintEvent = paint_event
        return original

    classes = (pg.GraphicsView, FocusMeter, HeadMap)
    originals = [timed(cls) for cls in classes]
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(round(1000 / TARGET_FPS))
    timer.timeout.connect(frame)
    loop = QEventLoop()
    QTimer.singleShot(round(seconds * 1000), loop.quit)
    samples0 = win.stream.runner.samples
    cpu0, wall0 = time.process_time(), time.perf_counter()
    timer.start()
    eeg0 = paint["eeg"]
    loop.exec()
    timer.stop()
    for cls, original in zip(classes, originals, strict=True):
        cls.paintEvent = original
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    samples = win.stream.runner.samples - samples0
    win.close()
    ft = np.asarray(frame_ms)
    return {
        "source": f"{kind} ({len(info.ch_names)} ch @ {info.sfreq:g} Hz)",
        "feedback": feedback,
        "seconds": round(wall, 1),
        "frames": int(ft.size),
        "fps": (paint["eeg"] - eeg0) / wall,
        "frame_p50_ms": float(np.percentile(ft, 50)),
        "frame_p99_ms": float(np.percentile(ft, 99)),
        "frame_max_ms": float(ft.max()),
        "cpu_pct_one_core": 100.0 * cpu / wall,
        "samples_per_s": samples / wall,
        "updates": live.updates,
    }


def run(args: argparse.Namespace) -> list[dict]:
    """Stream each source through the real window; return one row per source."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtWidgets import QApplication

    from neurofb_ui.source_panel import demo_path

    seconds = 5.0 if getattr(args, "quick", False) else float(getattr(args, "ui_seconds", 20.0))
    if seconds <= 0:
        raise ValueError(f"--ui-seconds must be positive, got {seconds}")
    app = QApplication.instance() or QApplication(["neurofb-bench"])
    old_home = os.environ.get("NEUROFB_HOME")
    rows = []
    with tempfile.TemporaryDirectory(prefix="neurofb-bench-ui-") as home:
        os.environ["NEUROFB_HOME"] = home  # the window's settings and data stay out of yours
        try:
            kinds = ["synthetic"] + (["demo"] if demo_path() else [])
            for kind in kinds:
                rows.append(_measure(app, kind, seconds))
        finally:
            if old_home is None:
                os.environ.pop("NEUROFB_HOME", None)
            else:
                os.environ["NEUROFB_HOME"] = old_home
    return rows
