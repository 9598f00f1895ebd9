"""Each exercise on the real synthetic board: run it, see its summary, find it in the history.

Sessions are recorded into the private data dir and indexed in a real SQLite library.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ui_helpers import STEP_S, connect, end_unkept

from neurofb import paths
from neurofb.library.index import SessionLibrary
from neurofb.recording import open_recording

SHORT_MIN = 0.07  # 4.2 s sessions


def run_exercise(qtbot, win, name: str):
    page = win.pages["train"]
    win.show_page("train")
    page.choose(name)
    assert page.start_session()
    assert page.running and not page.start_button.isEnabled()
    qtbot.waitUntil(lambda: page.last_result is not None and not page.running,
                    timeout=STEP_S * 1000)
    return page


@pytest.mark.parametrize("name", ["gauge", "rocket", "clarity"])
def test_exercise_runs_records_and_summarises(qtbot, make_window, name):
    win = make_window(session_min=SHORT_MIN)
    connect(qtbot, win)
    page = run_exercise(qtbot, win, name)
    canvas = page.canvases[name]
    assert canvas.view is not None and canvas.view.name == name
    assert canvas.frames > 0  # animated while it ran
    assert page.steps >= 8  # 4 updates/s for ~4 s
    res = page.last_result
    assert res.feedback.duration_s == pytest.approx(SHORT_MIN * 60, abs=0.6)
    assert page.stack.currentWidget() is page.summary
    assert page.summary.values["duration"].text() != "–"
    assert win.settings.exercise == name
    # the recording is closed, complete, and holds the exercise block
    rec = open_recording(res.recording)
    assert rec.meta["complete"] is True and not (Path(res.recording) / ".open").exists()
    assert rec.meta["summary"]["exercise"] == name
    kinds = [(m.kind, m.label) for m in rec.markers]
    assert ("block_start", name) in kinds and ("block_end", name) in kinds
    assert rec.trace and float(rec.trace[0]["t"]) >= 0  # re-timed to the recording
    assert rec.duration_s >= SHORT_MIN * 60 - 1
    lib = SessionLibrary()
    rows = lib.list_sessions()
    lib.close()
    assert [r.exercise for r in rows] == [name]
    assert rows[0].id == res.library_id and rows[0].user == "me"
    # the history page shows it
    hist = win.pages["history"]
    win.show_page("history")
    qtbot.waitUntil(lambda: len(hist.sessions) == 1, timeout=STEP_S * 1000)
    assert hist.table.rowCount() == 1 and hist.table.item(0, 1).text() == name
    hist.select_row(0)
    assert hist.open_button.isEnabled()
    hist.open_selected()
    qtbot.waitUntil(lambda: hist.trace is not None, timeout=STEP_S * 1000)
    assert hist.trace.t.size >= 8
    if name == "gauge":  # once: replay the session through the live pipeline, rebuild index
        hist.set_replay_from(2.0)
        assert hist.replay_button.text().startswith("Replay from 0:02")
        hist.replay_selected()
        qtbot.waitUntil(lambda: win.stream.current is not None
                        and bool(win.stream.current.info.details.get("replay")),
                        timeout=STEP_S * 1000)
        assert win.source.spec().kind == "file"
        from neurofb.stream.assemble import make_source
        from neurofb_ui.source_panel import SourceSpec
        from neurofb_ui.stream import ConnectRequest, stream_request

        spec = SourceSpec("file", file=res.recording, start_s=2.0)
        src = make_source(stream_request(ConnectRequest(spec)).source)
        assert src.position_s == pytest.approx(2.0, abs=0.01)
        assert win.current_page == "live"
        assert Path(win.stream.current.info.details["replay"]).resolve() == Path(
            res.recording).resolve()
        n = win.live.updates
        qtbot.waitUntil(lambda: win.live.updates > n + 2, timeout=STEP_S * 1000)
        hist.rebuild()
        qtbot.waitUntil(lambda: "Index rebuilt" in win.banner.label.text(),
                        timeout=STEP_S * 1000)
        assert "1 recordings indexed" in win.banner.label.text()


def test_a_session_starts_with_the_rest_baseline_when_asked(qtbot, make_window):
    """Baseline mode in the app: the rest screen until the engine says the baseline is taken,
    then the exercise; the live page says which mode the model is in."""
    win = make_window(session_min=SHORT_MIN, rest_baseline=True, rest_baseline_s=10.0)
    connect(qtbot, win)
    page = win.pages["train"]
    win.show_page("train")
    page.choose("gauge")
    assert page.start_session()
    qtbot.waitUntil(lambda: page.last_step is not None, timeout=STEP_S * 1000)
    assert page.last_step.view.name == "baseline-rest"
    assert page.canvas_stack.currentWidget() is page.rest_screen
    assert page.rest_screen.skip_button.isEnabled()
    # the rest is the stream's next seconds: it cannot be paused, and the button says why
    assert not page.pause_button.isEnabled() and "cannot be paused" in page.pause_button.toolTip()
    assert page.end_button.isEnabled()
    qtbot.waitUntil(lambda: page.last_step is not None and page.last_step.view.name == "gauge",
                    timeout=STEP_S * 1000)
    assert page.rest_screen.state == "taken" and "Baseline taken" in page.baseline_note
    assert page.canvas_stack.currentWidget() is page.canvases["gauge"]
    assert page.pause_button.isEnabled() and page.pause_button.toolTip() == ""
    win.show_page("live")  # the live page draws while it is shown
    qtbot.waitUntil(lambda: "baseline mode" in win.live.summary.text(), timeout=STEP_S * 1000)
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=STEP_S * 1000)
    kinds = [(m.kind, m.label) for m in open_recording(page.last_result.recording).markers]
    assert ("block_start", "baseline-rest") in kinds and ("baseline", "taken") in kinds
    # the summary says how focus was estimated
    assert page.summary.values["mode"].text() == "baseline mode (the rest was taken)"


def start_gauge(qtbot, make_window, *, steps: int):
    """A window on the synthetic board running a 5-minute gauge session, ``steps`` in."""
    win = make_window(session_min=5.0)
    connect(qtbot, win)
    page = win.pages["train"]
    win.show_page("train")
    page.choose("gauge")
    assert page.start_session()
    qtbot.waitUntil(lambda: page.steps >= steps, timeout=STEP_S * 1000)
    return win, page


def test_pause_stops_the_clock_and_end_early(qtbot, make_window):
    from neurofb_ui.session_summary import fmt_duration

    win, page = start_gauge(qtbot, make_window, steps=4)
    page.toggle_pause()
    assert page.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: page.last_step.view.paused, timeout=STEP_S * 1000)
    elapsed = page.last_step.view.elapsed_s
    n = page.steps
    qtbot.waitUntil(lambda: page.steps >= n + 6, timeout=STEP_S * 1000)
    assert page.last_step.view.elapsed_s == pytest.approx(elapsed, abs=0.3)
    assert page.last_step.view.message == "Paused"
    assert page.status.text() == "Paused"
    page.toggle_pause()
    qtbot.waitUntil(lambda: page.last_step.view.elapsed_s > elapsed + 0.5,
                    timeout=STEP_S * 1000)
    # a passing message gives way to the session's line again ("Paused", "Signal: flat …" stayed
    # until the session ended)
    assert page.status.text().startswith("Recording to")
    page.end_activity()
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=STEP_S * 1000)
    fb = page.last_result.feedback
    assert fb.paused_s > 1.0
    assert fb.duration_s < 60
    # the recording marks the pause and the resume, in order, inside the exercise's block
    marks = open_recording(page.last_result.recording).markers
    kinds = [m.kind for m in marks]
    assert kinds.count("pause") == 1 and kinds.count("resume") == 1
    assert kinds.index("block_start") < kinds.index("pause") < kinds.index("resume") \
        < kinds.index("block_end")
    # ... and History greys the paused stretch of its trace (it ran through it unmarked)
    hist = win.pages["history"]
    win.show_page("history")
    qtbot.waitUntil(lambda: len(hist.sessions) == 1, timeout=STEP_S * 1000)
    hist.select_row(0)
    hist.open_selected()
    qtbot.waitUntil(lambda: hist.trace is not None, timeout=STEP_S * 1000)
    at = {m.kind: m.t for m in marks}
    assert [r.getRegion() for r in hist.pause_regions] == [(at["pause"], at["resume"])]
    assert "paused 0:0" in hist.trace_info.text() and "(grey)" in hist.trace_info.text()
    win.show_page("train")
    # the focus chart runs on session time, as the summary's clock: the pause is left out,
    # marked, and the line breaks there instead of crossing it
    summary = page.summary
    x, y = summary.focus_curve.xData, summary.focus_curve.yData
    assert x.max() == pytest.approx(fb.duration_s)
    assert summary.values["duration"].text() == fmt_duration(fb.duration_s)
    (low, high), _ = summary.trace_plot.getPlotItem().getViewBox().viewRange()
    assert low <= 0 and high == pytest.approx(fb.duration_s, rel=0.02)
    assert len(summary.pause_lines) == 1
    at = summary.pause_lines[0].value()
    assert 0 < at < fb.duration_s
    assert np.isnan(y[np.flatnonzero(x == at)[-1]])  # the break after the last point before it
    # "Train again": the exercise, cleared of that session until the next one starts
    assert page.clock.text() == "done"
    summary.again_button.click()
    assert page.stack.currentIndex() == 0 and page.clock.text() == "–"
    assert page.points.text() == "0 points" and page.streak.text() == "streak 0"
    assert page.canvases["gauge"].view is None
    assert page.start_session()
    assert page.clock.text() == "–"  # not the last session's "done" before its first step
    page.end_activity()
    qtbot.waitUntil(lambda: not page.running, timeout=STEP_S * 1000)


def test_a_new_reward_rate_applies_to_the_running_session(qtbot, make_window):
    win, page = start_gauge(qtbot, make_window, steps=2)
    assert page.controller.session.controller.config.target_rate == pytest.approx(0.65)
    win.settings_page.reward_rate.setValue(40)
    assert win.settings.reward_rate == pytest.approx(0.40)
    assert page.controller.session.controller.config.target_rate == pytest.approx(0.40)
    assert "the reward rate at once, to a running session too" in (
        win.settings_page.applies.text())
    n = page.steps
    qtbot.waitUntil(lambda: page.steps >= n + 2, timeout=STEP_S * 1000)
    page.end_activity()
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=STEP_S * 1000)
    assert page.last_result.feedback.target_rate == pytest.approx(0.40)


def test_closing_mid_session_ends_the_recording_cleanly(qtbot, make_window):
    win = make_window(session_min=5.0)
    connect(qtbot, win)
    page = win.pages["train"]
    assert page.start_session()
    qtbot.waitUntil(lambda: page.steps >= 4, timeout=STEP_S * 1000)
    path = page.controller.recorder.path
    win.close()
    meta = json.loads((path / "meta.json").read_text())
    assert meta["complete"] is True and meta["interrupted"] is False
    assert not (path / ".open").exists()
    lib = SessionLibrary()
    rows = lib.list_sessions()
    lib.close()
    assert len(rows) == 1 and rows[0].recording_path == str(path.resolve())


def test_a_session_records_the_target_it_was_scored_by(qtbot, make_window):
    win = make_window(session_min=5.0)
    connect(qtbot, win)
    used = win.stream.current.estimator_name
    # a target typed in Settings applies from the next connection, not to this stream
    win.settings_page.target.setCurrentText("tbr")
    win.settings_page.target.lineEdit().editingFinished.emit()
    assert win.settings.target == "tbr" != used
    page = win.pages["train"]
    assert page.start_session()
    qtbot.waitUntil(lambda: page.steps >= 2, timeout=STEP_S * 1000)
    path = page.controller.recorder.path
    page.end_activity()
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=STEP_S * 1000)
    meta = json.loads((path / "meta.json").read_text())
    assert meta["target"] == used
    lib = SessionLibrary()
    rows = lib.list_sessions()
    lib.close()
    assert rows[0].model != "tbr"


def test_second_session_needs_a_connection(qtbot, make_window):
    win = make_window()
    page = win.pages["train"]
    assert not page.start_session()
    assert "Connect a source first" in win.banner.label.text()


def test_full_disk_is_shown_and_session_goes_on(qtbot, make_window):
    """A real write failure: a file size limit makes the recorder's writes fail (EFBIG)."""
    win = make_window(session_min=5.0)
    connect(qtbot, win)
    page = win.pages["train"]
    assert page.start_session()
    rec = page.controller.recorder
    qtbot.waitUntil(lambda: (rec.path / "eeg.bin").stat().st_size > 0, timeout=STEP_S * 1000)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    limit = (rec.path / "eeg.bin").stat().st_size + 20_000
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        qtbot.waitUntil(lambda: rec.error is not None, timeout=STEP_S * 1000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    qtbot.waitUntil(lambda: "recording stopped" in win.banner.label.text(),
                    timeout=STEP_S * 1000)
    assert win.banner.isVisible()
    n = page.steps
    qtbot.waitUntil(lambda: page.steps > n + 3, timeout=STEP_S * 1000)  # the session goes on
    page.end_activity()
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=STEP_S * 1000)
    assert open_recording(rec.path).n_samples > 0  # what was written stays readable


def test_next_start_finalises_an_interrupted_recording(qtbot, make_window):
    """A recording process is killed (kill -9); the next app start finalises and indexes it."""
    from test_crash import RECORDER, _kill_after  # records the synthetic board until killed

    path = paths.data_dir() / "recordings" / "20250101-120000-crashed"
    proc = subprocess.Popen([sys.executable, "-c", RECORDER, str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    _kill_after(proc, path, seconds=2.0)  # kill -9 once 2 s of samples are on disk
    win = make_window()
    qtbot.waitUntil(lambda: "Recovered 1 interrupted recording" in win.banner.label.text(),
                    timeout=STEP_S * 1000)
    lib = SessionLibrary()
    rows = lib.list_sessions()
    lib.close()
    assert len(rows) == 1 and rows[0].recording_path.endswith("-crashed")
    rec = open_recording(rows[0].recording_path)
    assert rec.meta["interrupted"] is True and rec.n_samples >= 2.0 * rec.sfreq


def test_another_exercise_chosen_mid_session_is_for_the_next_one(qtbot, make_window):
    win, page = start_gauge(qtbot, make_window, steps=2)
    win.settings_page.exercise.setCurrentText("rocket")
    assert win.settings.exercise == "rocket"
    # the running session keeps its canvas, which keeps moving
    assert page.canvas_stack.currentWidget() is page.canvases["gauge"]
    assert page.exercise_name == "gauge"
    assert win.banner.level == "info" and "next session" in win.banner.text
    n = page.steps
    qtbot.waitUntil(lambda: page.steps >= n + 2, timeout=STEP_S * 1000)
    assert page.canvases["gauge"].view is page.last_step.view
    page.end_activity()
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=STEP_S * 1000)
    assert page.last_result.exercise == "gauge"
    assert "next session" not in win.banner.text  # that session is over
    assert page.exercise_name == "rocket"
    assert page.canvas_stack.currentWidget() is page.canvases["rocket"]


def test_skipping_the_rest_says_so_and_a_session_ended_in_the_rest_is_not_kept(
        qtbot, make_window):
    win = make_window(session_min=5.0, rest_baseline=True, rest_baseline_s=30.0)
    connect(qtbot, win)
    if win.stream.current.estimator_name != "model":
        pytest.skip("the rest baseline needs the focus model (models/focus-default)")
    page = win.pages["train"]
    win.show_page("train")

    def start_and_rest():
        assert page.start_session()
        qtbot.waitUntil(lambda: page.last_step is not None
                        and page.last_step.view.name == "baseline-rest", timeout=STEP_S * 1000)

    start_and_rest()
    page.rest_screen.skip_button.click()
    qtbot.waitUntil(lambda: page.last_step.view.name == "gauge", timeout=STEP_S * 1000)
    n = page.steps
    qtbot.waitUntil(lambda: page.steps >= n + 3, timeout=STEP_S * 1000)
    assert page.status.text().startswith("Baseline skipped")
    page.end_activity()
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=STEP_S * 1000)
    first = page.last_result
    assert first.kept and first.recording and first.feedback.duration_s > 0
    assert page.summary.values["mode"].text() == "cold mode (the rest was skipped)"

    # ended during the rest: no exercise time, so no recording and no library row
    start_and_rest()
    end_unkept(qtbot, page)
    # closing the window during the rest keeps nothing either
    start_and_rest()
    recording = page.controller.recorder.path
    win.close()
    assert not recording.exists()
    lib = SessionLibrary()
    rows = lib.list_sessions()
    lib.close()
    assert [r.recording_path for r in rows] == [first.recording]
    assert [p.name for p in (paths.data_dir() / "recordings").iterdir()] == [
        Path(first.recording).name]


def test_an_empty_summary_says_so_inside_its_charts(qtbot):
    from pyqtgraph import TextItem

    from neurofb.practice.exercises import make_exercise
    from neurofb.practice.session import PracticeSession
    from neurofb_ui.session_controller import SessionResult
    from neurofb_ui.session_summary import SessionTrace, SummaryView

    session = PracticeSession(None, make_exercise("gauge", duration_s=60))  # no update came
    view = SummaryView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    view.show_result(SessionResult("gauge", session.summary(), session.session_summary(),
                                   None, None), SessionTrace())
    for plot, text in ((view.trace_plot, "no focus values"), (view.blocks_plot, "no block")):
        pi = plot.getPlotItem()
        items = [i for i in pi.items if isinstance(i, TextItem)]
        assert len(items) == 1 and items[0].toPlainText().startswith(text)
        qtbot.waitUntil(lambda i=items[0], b=pi.getViewBox(): placed(i, b),
                        timeout=STEP_S * 1000)
        assert pi.getViewBox().sceneBoundingRect().contains(items[0].sceneBoundingRect()), text


def placed(item, box) -> bool:
    """Whether a chart is laid out and ``item`` drawn where its data position puts it."""
    rect = item.sceneBoundingRect()
    at = box.mapViewToScene(item.pos())
    anchor = (rect.left() + item.anchor[0] * rect.width(),
              rect.top() + item.anchor[1] * rect.height())
    return (box.sceneBoundingRect().width() > 100
            and abs(anchor[0] - at.x()) < 1 and abs(anchor[1] - at.y()) < 1)


def test_history_leaves_calibrations_out_of_the_reward_figures(qtbot, make_window):
    """A calibration row stored with an on-target share (as sessions were before calibrations
    had none) shows no reward figures and stays out of the share-of-time-on-target curve."""
    from neurofb.library.summary import SessionSummary

    lib = SessionLibrary()
    for i, (exercise, share) in enumerate((("gauge", 0.6), ("calibration", 0.37))):
        lib.add_session(SessionSummary(user="me", started_at=f"2025-01-0{i + 1}T10:00:00+00:00",
                                       duration_s=60.0, exercise=exercise, mean_focus=0.4,
                                       time_above_s=60 * share, fraction_above=share,
                                       rewards=3 if exercise == "gauge" else 0))
    lib.close()
    win = make_window()
    hist = win.pages["history"]
    win.show_page("history")
    qtbot.waitUntil(lambda: len(hist.sessions) == 2, timeout=STEP_S * 1000)
    header = [hist.table.horizontalHeaderItem(c).text() for c in range(hist.table.columnCount())]
    rewards = [header.index(name) for name in ("On target", "Rewards", "Points", "Best streak")]
    rows = {hist.table.item(r, 1).text(): r for r in range(hist.table.rowCount())}
    assert [hist.table.item(rows["calibration"], c).text() for c in rewards] == [""] * 4
    assert [hist.table.item(rows["gauge"], c).text() for c in rewards] == ["60 %", "3", "0", "0"]
    assert list(hist.above_line.xData) == [1.0] and list(hist.above_line.yData) == [0.6]
    assert list(hist.focus_line.xData) == [1.0, 2.0]


def test_a_session_ends_and_is_kept_when_its_source_stops(qtbot, make_window, tmp_path):
    """A playback board reaching the end of its file stops the stream: the session on it ends
    with its summary (not frozen with its clock stuck), and the banner says what happened."""
    from board_helpers import record_synthetic_csv

    path = tmp_path / "short.csv"
    record_synthetic_csv(path, 8.0)
    win = make_window(session_min=5)
    connect(qtbot, win, "board", board="playback", fields={"file": str(path)})
    page = win.pages["train"]
    win.show_page("train")
    page.choose("gauge")
    assert page.start_session()
    qtbot.waitUntil(lambda: win.stream.current is None, timeout=STEP_S * 1000)
    qtbot.waitUntil(lambda: page.last_result is not None and not page.running,
                    timeout=STEP_S * 1000)
    res = page.last_result
    assert res.kept and res.library_id is not None
    assert 0 < res.feedback.duration_s < 8.0
    assert page.stack.currentWidget() is page.summary
    assert not page.pause_button.isEnabled() and page.start_button.isEnabled()
    assert win.banner.isVisible() and "The source stopped" in win.banner.text
    assert "The session on it was ended" in win.banner.text
    assert open_recording(res.recording).meta["complete"] is True


def test_the_banner_asking_for_a_source_goes_once_there_is_one(qtbot, make_window):
    from neurofb_ui.training_page import NEED_SOURCE

    win = make_window(session_min=SHORT_MIN)
    page = win.pages["train"]
    assert not page.start_session()  # nothing connected yet
    assert win.banner.isVisible() and win.banner.text == NEED_SOURCE
    connect(qtbot, win)
    assert not win.banner.isVisible()
