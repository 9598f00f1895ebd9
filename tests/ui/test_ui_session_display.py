"""What the training side panel and the history page show between sessions and users, and
how the settings page marks a refused value, on the real synthetic board and library."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from ui_helpers import STEP_S, connect, end_unkept

from neurofb.practice.rest import REST_LABEL

SHORT_MIN = 0.07  # 4.2 s sessions


def rest_window(qtbot, make_window):
    """A window on the synthetic board whose sessions start with the rest baseline."""
    win = make_window(session_min=SHORT_MIN, rest_baseline=True, rest_baseline_s=10.0)
    connect(qtbot, win)
    if win.stream.current.estimator_name != "model":
        pytest.skip("the rest baseline needs the focus model (models/focus-default)")
    page = win.pages["train"]
    win.show_page("train")
    page.choose("rocket")
    return win, page


def start_in_rest(qtbot, page):
    assert page.start_session()
    qtbot.waitUntil(lambda: page.last_step is not None
                    and page.last_step.view.name == REST_LABEL, timeout=STEP_S * 1000)


def run_skipping_rest(qtbot, page):
    """A kept session: the rest skipped after a few updates, then the exercise to its end."""
    before = page.last_result
    start_in_rest(qtbot, page)
    qtbot.waitUntil(lambda: page.steps >= 3, timeout=STEP_S * 1000)  # a rest block of ~0.5 s
    page.rest_screen.skip_button.click()
    qtbot.waitUntil(lambda: page.last_result is not before, timeout=STEP_S * 1000)
    assert page.last_result.kept
    return page.last_result


def test_a_new_session_starts_with_empty_counters_and_no_feedback_in_its_rest(
        qtbot, make_window):
    _win, page = rest_window(qtbot, make_window)
    run_skipping_rest(qtbot, page)
    # the session filled the side panel and flew the rocket
    assert page.on_target.text() != "on target –" and "best" in page.streak.text()
    rocket = page.canvases["rocket"]
    assert rocket.shown_altitude > 0
    start_in_rest(qtbot, page)
    assert page.canvas_stack.currentWidget() is page.rest_screen
    # nothing of the last session, and no reward-looking meter during the rest
    meter = page.meter
    assert meter.focus is None and meter.threshold is None and not meter.rewarding
    assert meter.reason == "resting"
    assert (page.points.text(), page.streak.text(), page.on_target.text()) == (
        "0 points", "streak 0", "on target –")
    assert rocket.view is None and rocket.shown_altitude == 0.0  # starts on the ground
    end_unkept(qtbot, page)


def test_history_shades_the_baseline_rest_and_forgets_a_trace_of_another_user(
        qtbot, make_window):
    win, page = rest_window(qtbot, make_window)
    run_skipping_rest(qtbot, page)
    hist = win.pages["history"]
    win.show_page("history")
    qtbot.waitUntil(lambda: len(hist.sessions) == 1, timeout=STEP_S * 1000)
    pi = hist.trace_plot.getPlotItem()
    prompt = pi.titleLabel.text
    hist.select_row(0)
    hist.open_selected()
    qtbot.waitUntil(lambda: hist.trace is not None, timeout=STEP_S * 1000)
    shaded = {tuple(round(v, 6) for v in r.getRegion()): r.brush.color().getRgb()
              for r in pi.items if isinstance(r, pg.LinearRegionItem)}
    found = {b.label: shaded.get((round(b.start_s, 6), round(b.end_s, 6)))
             for b in hist.trace.blocks}
    assert found == {REST_LABEL: (66, 165, 245, 50), "rocket": (239, 108, 0, 50)}
    assert "blocks shaded (baseline rest blue, exercise orange)" in hist.trace_info.text()
    hist.set_replay_from(2.0)

    # another user: their history has no session, so no trace of the first user's
    loads = hist.loads
    win.settings_page.user.setText("someone else")
    win.settings_page.user.editingFinished.emit()
    assert win.settings.user == "someone else"
    hist.refresh()
    qtbot.waitUntil(lambda: hist.loads > loads, timeout=STEP_S * 1000)
    assert hist.sessions == () and hist.table.rowCount() == 0
    assert hist.trace is None and pi.listDataItems() == []
    assert not [i for i in pi.items if isinstance(i, pg.LinearRegionItem)]
    assert pi.titleLabel.text == prompt and hist.trace_info.text() == ""
    assert hist.replay_from == 0.0


def test_a_refused_combo_value_keeps_the_field_size_and_is_framed_red(qtbot, make_window):
    win = make_window()
    win.resize(1280, 720)
    sp = win.settings_page
    win.show_page("settings")
    qtbot.waitUntil(lambda: sp.target.isVisible() and sp.target.height() > 0)
    frame = sp.target.parentWidget()  # what is framed red
    height, hint = sp.target.height(), sp.target.sizeHint().height()
    sp.target.setCurrentText("band:foo/bar@Zz")
    sp.target.lineEdit().editingFinished.emit()
    assert "unknown band 'foo'" in sp.error("target")
    qtbot.waitUntil(lambda: frame.grab().toImage().pixelColor(
        0, frame.height() // 2).name() == "#d32f2f", timeout=STEP_S * 1000)
    assert sp.target.sizeHint().height() >= hint
    # once the page is laid out again (the error line below it squeezes it for a moment)
    qtbot.waitUntil(lambda: sp.target.height() >= height, timeout=10_000)
    assert sp.target.lineEdit().height() >= sp.target.fontMetrics().height()  # text readable
    # a good value clears the mark, and the field keeps its size
    sp.target.setCurrentText("model")
    sp.target.lineEdit().editingFinished.emit()
    assert sp.error("target") == ""
    qtbot.waitUntil(lambda: frame.grab().toImage().pixelColor(
        0, frame.height() // 2).name() != "#d32f2f", timeout=STEP_S * 1000)
    assert sp.target.height() == height


def test_the_progress_legend_covers_no_data(qtbot, make_window):
    from neurofb.library.index import SessionLibrary
    from neurofb.library.summary import SessionSummary

    lib = SessionLibrary()
    for i, (focus, share) in enumerate(((0.3, 1.0), (0.1, 0.05), (0.95, 0.2), (0.05, 0.9))):
        lib.add_session(SessionSummary(user="me", started_at=f"2025-01-0{i + 1}T10:00:00+00:00",
                                       duration_s=60.0, exercise="gauge", mean_focus=focus,
                                       time_above_s=60 * share, fraction_above=share,
                                       rewards=3))
    lib.close()
    win = make_window()
    win.resize(1280, 720)
    hist = win.pages["history"]
    win.show_page("history")
    qtbot.waitUntil(lambda: len(hist.sessions) == 4, timeout=STEP_S * 1000)
    (legend,) = [i for i in hist.progress_plot.scene().items() if isinstance(i, pg.LegendItem)]
    box = hist.progress_plot.getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: legend.isVisible() and box.sceneBoundingRect().height() > 50,
                    timeout=STEP_S * 1000)
    names = [label.text for _sample, label in legend.items]
    assert names == ["mean focus", "share of time on target"]
    # outside the plot area, inside the chart, so no data point lies under it
    shown = legend.sceneBoundingRect()
    assert not shown.intersects(box.sceneBoundingRect())
    assert hist.progress_plot.sceneRect().contains(shown)


def test_minutes_per_day_stays_readable_after_weeks_of_training(qtbot, make_window):
    # Three weeks of daily sessions: the chart shows the latest fortnight, says so, and its
    # bar labels and dates do not run into each other.
    import datetime as dt
    import itertools

    from neurofb.library.index import SessionLibrary
    from neurofb.library.summary import SessionSummary

    first = dt.date(2025, 1, 1)
    with SessionLibrary() as lib:
        for i in range(21):
            day = (first + dt.timedelta(days=i)).isoformat()
            lib.add_session(SessionSummary(user="me", started_at=f"{day}T10:00:00+00:00",
                                           duration_s=300.0, exercise="gauge",
                                           mean_focus=0.3 + 0.01 * i, fraction_above=0.5,
                                           rewards=3))
    win = make_window()
    win.resize(1280, 720)
    hist = win.pages["history"]
    win.show_page("history")
    qtbot.waitUntil(lambda: len(hist.sessions) == 21, timeout=STEP_S * 1000)
    assert len(hist.day_labels) == 14
    assert "last 14 days" in hist.days_plot.getPlotItem().titleLabel.text
    assert "the last 14 of 21 days" in hist.days_plot.toolTip()
    assert [label.textItem.toPlainText() for label in hist.day_labels][-1] == "0.50"
    ticks = hist.days_plot.getPlotItem().getAxis("bottom")._tickLevels[0]
    assert len(ticks) <= 7 and ticks[-1][1] == "01-21"  # the latest day is always dated
    qtbot.waitUntil(lambda: hist.days_plot.getPlotItem().getViewBox().width() > 100,
                    timeout=STEP_S * 1000)
    boxes = [label.sceneBoundingRect() for label in hist.day_labels]
    assert not any(a.intersects(b) for a, b in itertools.pairwise(boxes))
    # every bar is in view: the chart is not widened past its place (a long title did that)
    view = hist.days_plot.getPlotItem().getViewBox()
    seen = hist.days_plot.mapToScene(hist.days_plot.rect()).boundingRect()
    assert all(seen.contains(view.mapViewToScene(pg.QtCore.QPointF(i, 0.1)))
               for i in range(14))


def test_the_summary_says_where_the_threshold_went_between_start_and_end(qtbot):
    # Low focus pulls the adaptive threshold down, high focus back up: start and end alike
    # would hide that; the summary row gives the range it went through.
    from feedback_helpers import updates

    from neurofb.practice.reward import RewardConfig, RewardController
    from neurofb_ui.session_summary import SessionTrace, SummaryView

    controller = RewardController(RewardConfig())
    trace = SessionTrace()
    focus = [0.02] * 160 + [0.95] * 160
    for u in updates(focus):
        trace.add(controller.step(u))
    fb = controller.summary()
    rows = dict((k, v) for k, _label, v in SummaryView._reward_rows(fb, trace))
    low, high = float(np.nanmin(trace.threshold)), float(np.nanmax(trace.threshold))
    assert low < min(fb.threshold_start, fb.threshold_end) - 0.01
    assert rows["threshold"].endswith(f"({low:.2f}–{high:.2f} during)")
    assert "during" not in dict((k, v) for k, _l, v in SummaryView._reward_rows(fb))["threshold"]


def test_the_gauge_announces_the_points_a_reward_added():
    from feedback_helpers import updates

    from neurofb.practice.exercises import FocusGauge
    from neurofb.practice.reward import RewardConfig, RewardController
    from neurofb_ui.exercise_views import gauge_label

    ctl = RewardController(RewardConfig(adaptive=False, initial_threshold=0.5))
    ex = FocusGauge(duration_s=None, min_hold_s=0.0)
    views = [ex.step(ctl.step(u)) for u in updates([0.8] * 12, hop=0.25)]
    rewarded = [v for v in views if v.reward]
    assert rewarded[-1].points > rewarded[-1].points_awarded
    assert [gauge_label(v) for v in rewarded] == [
        f"+{v.points_awarded} point{'s' * (v.points_awarded != 1)}" for v in rewarded]
    assert gauge_label(views[0]) in ("On target — hold it!", "Raise your focus above the line")


def test_the_threshold_line_ends_where_the_summary_says(qtbot):
    """A session ended just as the threshold's warm-up finished: the summary said '0.50 → 0.16'
    while the chart's line stayed flat at 0.50 (the last update moved it for the next one)."""
    from feedback_helpers import updates

    from neurofb.practice.exercises import make_exercise
    from neurofb.practice.reward import RewardConfig
    from neurofb.practice.session import PracticeSession
    from neurofb_ui.session_controller import SessionResult
    from neurofb_ui.session_summary import SessionTrace, SummaryView

    session = PracticeSession(None, make_exercise("gauge", duration_s=None),
                              RewardConfig(warmup_s=5.0))
    trace = SessionTrace()
    focus = [0.1, 0.2, 0.15, 0.1, 0.05] * 4 + [0.1]  # 5 s at 0.25 s: the warm-up ends last
    for u in updates(focus, hop=0.25):
        trace.add(session.controller.step(u))
    fb = session.controller.summary()
    assert fb.threshold_end != trace.threshold[-1]  # the last update moved it
    view = SummaryView()
    qtbot.addWidget(view)
    view.show_result(SessionResult("gauge", fb, session.session_summary(), None, None), trace)
    x, y = view.threshold_curve.getData()
    assert y[-1] == pytest.approx(fb.threshold_end) and x[-1] == pytest.approx(x[-2])
    assert f"→ {fb.threshold_end:.2f}" in view.values["threshold"].text()
