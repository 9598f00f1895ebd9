"""The app's switches for other tools: LSL source in the picker, LSL/OSC out, mains auto."""

from __future__ import annotations

import threading
import uuid

import pytest


def test_settings_for_other_tools_persist_and_are_checked():
    from neurofb_ui.settings import AppSettings, load_settings

    saved = AppSettings(source="lsl", lsl_stream="obci_eeg1", lsl_montage="cyton", lsl_unit="uV",
                        lsl_out=True, lsl_out_name="game", osc_out="127.0.0.1:12345")
    saved.save()
    assert load_settings() == saved
    assert AppSettings().line_freq == "auto"
    for bad in ({"osc_out": "nowhere"}, {"lsl_unit": "furlongs"}, {"line_freq": 55},
                {"lsl_out": True, "lsl_out_name": " "}):
        with pytest.raises(ValueError):
            AppSettings(**bad)


def test_connect_request_becomes_an_lsl_and_output_request():
    from neurofb.errors import BoardError
    from neurofb.stream.assemble import LslRequest
    from neurofb_ui.source_panel import SourceSpec
    from neurofb_ui.stream import ConnectRequest, stream_request

    spec = SourceSpec(kind="lsl", fields={"stream": "obci_eeg1", "montage": "cyton",
                                          "unit": "uV"})
    req = stream_request(ConnectRequest(spec, lsl_out="game", osc_out="127.0.0.1:9000"))
    assert req.source == LslRequest(name="obci_eeg1", montage="cyton", unit="uV")
    assert req.lsl_out.name == "game" and req.osc_out[0].port == 9000
    assert req.config.line_freq == "auto"
    first = stream_request(ConnectRequest(SourceSpec(kind="lsl", fields={}), line_freq=60))
    assert first.source.stype == "EEG" and first.config.line_freq == 60.0
    with pytest.raises(BoardError, match="OSC out"):
        stream_request(ConnectRequest(spec, osc_out="127.0.0.1:0"))


def test_source_panel_lsl_choice_round_trips(qtbot):
    from neurofb_ui.settings import AppSettings
    from neurofb_ui.source_panel import SourcePanel, SourceSpec

    panel = SourcePanel(AppSettings())
    qtbot.addWidget(panel)
    spec = SourceSpec(kind="lsl", fields={"stream": "muse", "montage": "muse", "unit": "auto"})
    panel.select(spec)
    assert panel.spec() == spec and "muse" in panel.spec().label
    assert not panel.lsl_box.isHidden() and panel.board_box.isHidden()


def test_app_streams_an_lsl_source_and_publishes_focus(qtbot, make_window, lsl_loopback):
    # A real LSL EEG outlet (the demo's samples, no labels, like the OpenBCI GUI's) read by the
    # app's LSL source, with the app's LSL output switched on: focus comes back over LSL.
    import numpy as np

    from neurofb import paths
    from neurofb.recording import formats
    from neurofb_ui.source_panel import SourceSpec

    pylsl = lsl_loopback
    demo = formats.open_recording(paths.shipped_recordings_dir() / "demo-eegmat")
    name = f"app-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EEG", 19, demo.sfreq, "float32", name))
    stop = threading.Event()

    def push():
        k = 0
        while not stop.is_set():
            outlet.push_chunk(demo.data[:, k : k + 25].T.astype(np.float32).tolist())
            k = (k + 25) % (demo.n_samples - 25)
            stop.wait(0.1)

    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    try:
        win = make_window(lsl_out=True, lsl_out_name=f"{name}-out", target="engagement")
        win.connect_source(SourceSpec(kind="lsl", fields={"stream": name, "montage": "full",
                                                          "unit": "auto"}))
        qtbot.waitUntil(lambda: win.stream.current is not None, timeout=60_000)
        assert "read as uV" in win.stream.current.warning
        found = pylsl.resolve_byprop("name", f"{name}-out-Focus", timeout=20)
        assert found
        inlet = pylsl.StreamInlet(found[0])
        inlet.open_stream(20)
        got: list = []
        qtbot.waitUntil(lambda: (got.extend(inlet.pull_chunk(timeout=0.0)[0]) or len(got)) > 3,
                        timeout=60_000)
        assert all(len(s) == 4 for s in got)
        win.disconnect_source()
        qtbot.waitUntil(lambda: win.stream.current is None, timeout=30_000)
    finally:
        stop.set()
        pusher.join(5)
