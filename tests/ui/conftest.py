"""pytest-qt fixtures: a real main window (offscreen) with settings in the private data dir."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from ui_helpers import CONNECT_S


@pytest.fixture
def make_window(qtbot):
    """Build the main window with some settings changed; it is closed (stream stopped) after."""
    from neurofb_ui.main_window import MainWindow
    from neurofb_ui.settings import AppSettings

    made = []

    def make(**changes):
        # sessions start at once unless a test asks for the rest baseline of baseline mode
        settings = AppSettings(**{"rest_baseline": False, **changes})
        settings.save()
        win = MainWindow(settings)
        qtbot.addWidget(win)
        win.show()
        made.append(win)
        return win

    yield make
    for win in made:
        if win.isVisible():
            win.close()
        # every board session of the process must be released before the next test
        qtbot.waitUntil(lambda w=win: w.stream.current is None, timeout=CONNECT_S * 1000)
