"""Helpers of the UI tests: connect a window and wait for data."""

from __future__ import annotations

#: Generous timeouts: the 2-core machine may be busy with other work.
CONNECT_S = 30
STEP_S = 60


def connect(qtbot, win, kind: str = "synthetic", **spec):
    """Connect the window to a source and wait for chunks and the first pipeline update."""
    from neurofb_ui.source_panel import SourceSpec

    win.connect_source(SourceSpec(kind=kind, **spec))
    qtbot.waitUntil(lambda: win.stream.current_state in ("connected", "error"),
                    timeout=CONNECT_S * 1000)
    assert win.stream.current_state == "connected", win.source.state.text()
    win.show_page("live")
    qtbot.waitUntil(lambda: win.live.updates > 0 and win.live.eeg.samples_seen > 0,
                    timeout=CONNECT_S * 1000)


def end_unkept(qtbot, page):
    """End the page's session, which must not be kept: no recording, library row or summary,
    and the status line says so. Return its result."""
    recording, before = page.controller.recorder.path, page.last_result
    page.end_activity()
    qtbot.waitUntil(lambda: page.last_result is not before, timeout=STEP_S * 1000)
    res = page.last_result
    assert not res.kept and res.recording is None and res.library_id is None
    assert not recording.exists()
    assert page.stack.currentWidget() is not page.summary
    assert "nothing was recorded" in page.status.text()
    return res
