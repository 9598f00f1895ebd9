"""A practice session on a replayed recording (the demo, or a past session replayed from the
history) is marked as such in the session library: it is not the user's live EEG."""

from __future__ import annotations

from test_ui_training import run_exercise
from ui_helpers import STEP_S, connect

from neurofb.library.index import SessionLibrary
from neurofb.recording import open_recording

SHORT_MIN = 0.07  # 4.2 s sessions


def test_a_session_on_a_replay_says_so_and_a_live_one_does_not(qtbot, make_window):
    from neurofb_ui.source_panel import demo_path

    win = make_window(session_min=SHORT_MIN)
    connect(qtbot, win, "demo", file=demo_path())
    on_replay = run_exercise(qtbot, win, "gauge").last_result
    win.disconnect_source()
    qtbot.waitUntil(lambda: win.stream.current is None, timeout=STEP_S * 1000)
    connect(qtbot, win)  # the synthetic board: a live source, simulated
    assert win.stream.current.info.live and win.stream.current.info.simulated
    live = run_exercise(qtbot, win, "gauge").last_result
    with SessionLibrary() as lib:
        rows = {r.id: r for r in lib.list_sessions()}
    assert "practised on a replay of demo-eegmat, not on a live headset" in rows[
        on_replay.library_id].notes
    # the synthetic board is no one's EEG either: it says so (it went into progress as training)
    assert rows[live.library_id].notes.startswith("practised on BrainFlow's synthetic board")
    assert "replay" not in rows[live.library_id].notes
    # in the recording from its start, so a crash-recovered session keeps it too
    assert open_recording(on_replay.recording).meta["notes"].startswith("practised on a replay")
    assert open_recording(live.recording).meta["notes"].startswith("practised on BrainFlow's")
    # History sets the row apart and says why (tooltip, and beside the trace when shown)
    hist = win.pages["history"]
    win.show_page("history")
    qtbot.waitUntil(lambda: len(hist.sessions) == 2, timeout=STEP_S * 1000)
    row = next(r for r in range(2) if "replay" in hist.table.item(r, 1).toolTip())
    assert hist.table.item(row, 1).font().italic()
    assert hist.table.item(1 - row, 1).font().italic()  # set apart too: a simulated signal
    assert "synthetic board" in hist.table.item(1 - row, 1).toolTip()
    hist.select_row(row)
    hist.open_selected()
    qtbot.waitUntil(lambda: hist.trace is not None, timeout=STEP_S * 1000)
    assert "Note: practised on a replay of demo-eegmat" in hist.trace_info.text()


def test_replay_from_history_waits_for_the_running_session(qtbot, make_window):
    """Replay pressed in History during a session took its stream and ended it, unasked."""
    from neurofb_ui.history_view import REPLAY_WAITS

    win = make_window(session_min=SHORT_MIN)
    connect(qtbot, win)
    run_exercise(qtbot, win, "gauge")  # a session in History to replay
    win.settings.session_min = 5.0
    page = win.pages["train"]
    assert page.start_session()
    qtbot.waitUntil(lambda: page.steps >= 2, timeout=STEP_S * 1000)
    stream = win.stream.current
    hist = win.pages["history"]
    win.show_page("history")
    qtbot.waitUntil(lambda: len(hist.sessions) == 1, timeout=STEP_S * 1000)
    hist.select_row(0)
    hist.replay_selected()
    assert win.banner.text == REPLAY_WAITS
    n = page.steps
    qtbot.waitUntil(lambda: page.steps >= n + 2, timeout=STEP_S * 1000)  # the session goes on
    assert page.running and win.stream.current is stream
    page.end_activity()
    qtbot.waitUntil(lambda: not page.running, timeout=STEP_S * 1000)
    hist.replay_selected()  # with the session ended, the replay starts
    qtbot.waitUntil(lambda: win.stream.current is not None and win.stream.current is not stream
                    and not win.stream.current.info.live, timeout=STEP_S * 1000)
