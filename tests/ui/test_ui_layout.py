"""The window fits a 1280×720 laptop screen, and every control of every page can be reached."""

from __future__ import annotations

#: A 1280×720 screen, less a title bar.
SCREEN_W, SCREEN_H = 1280, 720 - 30


def controls(page):
    """The page's visible controls (buttons, fields, lists, sliders)."""
    from PyQt6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QListWidget,
        QSlider,
    )

    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QListWidget, QSlider)
    return [w for kind in kinds for w in page.findChildren(kind)
            if w.isVisibleTo(page) and w.parentWidget().objectName() != "qt_scrollarea_viewport"
            and not isinstance(w.parentWidget(), (QComboBox, QAbstractSpinBox))]


def test_every_page_fits_a_1280x720_screen_and_all_of_it_is_reachable(qtbot, make_window):
    from neurofb_ui.source_panel import SourceSpec

    win = make_window()
    # the tallest source panel: a BrainFlow board with all its connection fields
    win.source.select(SourceSpec(kind="board", board="cyton"))
    qtbot.waitUntil(lambda: win.source.board_box.isVisible())
    hint = win.minimumSizeHint()
    assert hint.width() <= SCREEN_W and hint.height() <= SCREEN_H, hint
    win.resize(SCREEN_W, SCREEN_H)
    qtbot.waitUntil(lambda: win.size().width() == SCREEN_W)
    # beside the board's fields every page's name is still in view (Settings was scrolled off)
    assert win.nav.verticalScrollBar().maximum() == 0
    for key, page in win.pages.items():
        win.show_page(key)
        qtbot.waitUntil(page.isVisible)
        # nothing is squeezed below the size its layout needs (which would cut it)
        need = page.minimumSizeHint()
        assert page.width() >= need.width() and page.height() >= need.height(), key
        area = win.page_areas.get(key)
        found = controls(page)
        assert found, key
        for w in found:
            if area is not None:
                area.ensureWidgetVisible(w)
            assert not w.visibleRegion().isEmpty(), (key, type(w).__name__, w.objectName())
    # the history page's charts stay readable at this size (not squashed to a strip)
    win.show_page("history")
    hist = win.pages["history"]
    qtbot.waitUntil(hist.isVisible)
    for chart in (hist.progress_plot, hist.days_plot, hist.trace_plot):
        assert chart.height() >= 150 and chart.width() >= 300, (chart.size(), hist.size())
    # the tall pages scroll at this size instead of growing the window
    assert win.page_areas["settings"].verticalScrollBar().maximum() > 0


def test_a_long_banner_is_cut_not_growing_the_window_past_the_screen(qtbot, make_window):
    """A model-does-not-fit message listing 32 channel names grew the window to 791 px."""
    from neurofb_ui.source_panel import SourceSpec

    win = make_window()
    win.source.select(SourceSpec(kind="board", board="cyton"))  # the tallest source panel
    names = ", ".join(f"'EEG{i}'" for i in range(1, 33))
    message = (f"the focus model could not load or does not fit this stream (only 0 known "
               f"10-20/10-10 electrode(s) among the channels [{names}] (found [])); using the "
               "engagement target instead")
    win.show_problem(message, "warning")
    qtbot.waitUntil(win.banner.isVisible)
    assert win.banner.text == message  # whole, for whoever reads it
    assert win.banner.label.toolTip() == message
    shown = win.banner.label.text()
    assert shown.endswith("…") and len(shown) <= win.banner.MAX_CHARS
    hint = win.minimumSizeHint()
    assert hint.height() <= SCREEN_H, hint
    win.show_problem("Short and whole.", "info")
    assert win.banner.label.text() == "Short and whole." and win.banner.label.toolTip() == ""


def test_the_meter_reason_fits_under_its_bar(qtbot):
    """A long bad-signal reason is cut with an ellipsis to fit the space under the bar (it
    was wrapped onto three lines and drawn over the bar); the whole reason is the tooltip."""
    from PyQt6.QtCore import QRectF

    from neurofb_ui.live_view import _REASON_FLAGS, FocusMeter

    meter = FocusMeter()
    qtbot.addWidget(meter)
    meter.resize(120, 380)
    meter.show()
    reason = ("EMG: PO7, Oz, PO8, F5, F3, F2, F4, F6, F8; high amplitude: F7, F1, Fz, Cz, C3, "
              "C4, Pz")
    meter.set_state(None, reason=reason)
    meter.grab()  # paints it
    assert meter.toolTip() == reason
    shown = meter.reason_shown
    assert shown.endswith("…") and len(shown) < len(reason)
    area = QRectF(4, meter.height() - 34, meter.width() - 8, 34)
    assert meter.fontMetrics().boundingRect(area.toRect(), _REASON_FLAGS, shown).height() <= 34
    meter.set_state(None, reason="flat: Fz")
    meter.grab()
    assert meter.reason_shown == "flat: Fz"


def test_a_summary_with_long_values_does_not_widen_the_window(qtbot):
    """'Focus estimated in: cold mode (the rest was skipped)' on one unbreakable line made the
    Train page (and so the window) 180 px wider than it needs to be."""
    from neurofb.practice.exercises import make_exercise
    from neurofb.practice.session import PracticeSession
    from neurofb_ui.session_controller import SessionResult
    from neurofb_ui.session_summary import SessionTrace, SummaryView

    session = PracticeSession(None, make_exercise("gauge", duration_s=60))
    view = SummaryView()
    qtbot.addWidget(view)
    view.show()
    plain = view.minimumSizeHint().width()
    view.show_result(SessionResult("gauge", session.summary(), session.session_summary(),
                                   None, None, mode="cold mode (too little clean signal in the "
                                                     "rest)"), SessionTrace())
    assert view.values["mode"].wordWrap()
    assert view.minimumSizeHint().width() <= max(plain, 560)


def test_a_32_channel_board_fits_the_screen(qtbot, make_window, tmp_path):
    """A 32-channel playback (the model does not fit it: a banner too) grew the window to
    1280×781: the quality list now takes four columns."""
    from board_helpers import record_synthetic_csv

    from neurofb.recording import export, open_recording
    from neurofb_ui.source_panel import SourceSpec

    csv16 = tmp_path / "synthetic.csv"
    record_synthetic_csv(csv16, 3.0)
    csv32 = tmp_path / "board32.csv"
    export(open_recording(csv16), "csv", csv32, board="explore_plus_32_chan")
    win = make_window()
    win.resize(SCREEN_W, SCREEN_H)
    win.connect_source(SourceSpec(kind="board", board="playback",
                                  fields={"file": str(csv32),
                                          "master_board": "explore_plus_32_chan"}))
    qtbot.waitUntil(lambda: win.stream.current_state == "connected", timeout=30_000)
    win.show_page("live")
    qtbot.waitUntil(lambda: win.live.quality.rows and len(win.live.quality.rows) == 32,
                    timeout=30_000)
    qtbot.wait(200)
    assert win.minimumSizeHint().height() <= SCREEN_H, win.minimumSizeHint()
    assert win.height() <= SCREEN_H
    win.disconnect_source()
