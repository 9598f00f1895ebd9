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
