"""Take the screenshots in docs/screenshots/ from a real app window.

Run under a virtual X server (or any desktop)::

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshots.py

It opens the real main window in a fresh, temporary data folder, streams the shipped real-EEG
demo recording (the synthetic board when the demo is not installed), runs each exercise and a
short calibration for real, and saves one PNG per screen: live view, the rest baseline (the
first session's minute of rest), each exercise, the session summary, calibration, history and
the model screen. Nothing is staged: every number on the pictures comes from the session the
script runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "screenshots"


def save(win: object, name: str, out: Path, *, max_kb: int = 250) -> Path:
    """Grab the window and save it as PNG (256 colours when full colour is over ``max_kb``)."""
    from PyQt6.QtGui import QImage

    img = win.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    path = out / f"{name}.png"
    try:
        from PIL import Image
    except ImportError:  # Pillow comes with matplotlib (an MNE dependency); Qt can do it too
        img.save(str(path), "PNG", 0)
        return path
    w, h = img.width(), img.height()
    raw = bytes(img.constBits().asarray(img.sizeInBytes()))
    rgb = Image.frombuffer("RGB", (w, h), raw, "raw", "RGB", img.bytesPerLine(), 1)
    rgb.save(path, optimize=True)
    if path.stat().st_size > max_kb * 1024:
        small = rgb.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        small.save(path, optimize=True)
    print(f"saved {path} ({path.stat().st_size // 1024} KB)", flush=True)
    return path


def steps(win: object, out: Path, exercise_s: float) -> Iterator[float | Callable[[], bool]]:
    """The tour: yield seconds to wait, or a condition to wait for."""
    from neurofb_ui.source_panel import SourceSpec, demo_path

    spec = SourceSpec(kind="demo", file=demo_path()) if demo_path() else SourceSpec("synthetic")
    win.connect_source(spec)
    yield lambda: win.stream.current is not None and win.live.updates > 4
    win.show_page("live")
    yield 10.0
    save(win, "live", out)

    train = win.pages["train"]
    win.show_page("train")
    for name in ("gauge", "rocket", "clarity"):
        train.choose(name)
        train.start_session()
        if name == "gauge":  # the first session starts with the minute of rest (baseline mode)
            yield 15.0
            save(win, "rest", out)
            yield lambda: train.last_step is not None and train.last_step.view.name == "gauge"
            # the next sessions run cold, to keep the tour short
            win.settings = dataclasses.replace(win.settings, rest_baseline=False)
        yield exercise_s
        save(win, name, out)
        if name != "clarity":
            train.end_activity()
            yield lambda: not train.running
    yield lambda: not train.running
    yield 1.0
    save(win, "summary", out)

    calib = win.pages["calibrate"]
    win.show_page("calibrate")
    calib.start_session()
    yield lambda: calib.last_step is not None and calib.last_step.view.phase == "task"
    yield 3.0
    save(win, "calibration", out)
    yield lambda: not calib.running
    yield 1.0

    hist = win.pages["history"]
    win.show_page("history")
    yield lambda: len(hist.sessions) >= 4
    hist.select_row(1)
    hist.open_selected()
    yield lambda: hist.trace is not None
    yield 1.0
    save(win, "history", out)

    model = win.pages["model"]
    win.show_page("model")
    yield lambda: model.card.text() != "Reading the model…"
    if calib.last_result is not None and calib.last_result.recording:
        model.personalise(calib.last_result.recording)
        yield lambda: not model.busy
        yield lambda: len(model.models) >= 2
    yield 1.5
    save(win, "model", out)
    win.show_page("settings")
    yield 0.5
    save(win, "settings", out)


def main(argv: list[str] | None = None) -> int:
    """Run the tour; return 0 when every screenshot was saved."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(OUT), help="folder for the PNGs")
    p.add_argument("--exercise-seconds", type=float, default=16.0,
                   help="seconds each exercise runs before its picture")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="neurofb-shots-") as home:
        os.environ["NEUROFB_HOME"] = home
        from PyQt6.QtCore import QTimer
        from PyQt6.QtWidgets import QApplication

        from neurofb_ui.main_window import MainWindow
        from neurofb_ui.settings import AppSettings

        app = QApplication(sys.argv[:1])
        settings = AppSettings(user="demo", source="demo", session_min=0.75, calib_block_s=35,
                               calib_blocks=2, target="model")
        settings.save()
        win = MainWindow(settings)
        win.resize(1400, 900)
        win.show()
        tour = steps(win, out, args.exercise_seconds)
        result = {"rc": 1}

        def advance() -> None:
            try:
                what = next(tour)
            except StopIteration:
                result["rc"] = 0
                win.close()
                app.quit()
                return
            if callable(what):
                deadline = time.monotonic() + 180.0

                def poll() -> None:
                    if what():
                        advance()
                    elif time.monotonic() > deadline:
                        print("timed out waiting; giving up", file=sys.stderr)
                        win.close()
                        app.quit()
                    else:
                        QTimer.singleShot(100, poll)

                poll()
            else:
                QTimer.singleShot(int(what * 1000), advance)

        QTimer.singleShot(500, advance)
        app.exec()
    return result["rc"]


if __name__ == "__main__":
    sys.exit(main())
