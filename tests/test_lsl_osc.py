"""LSL in and out, OSC out and markers in — real liblsl on loopback, a real python-osc server.

liblsl runs with the loopback-only configuration of conftest.py (checked by ``lsl_loopback``);
OSC goes to 127.0.0.1 only. Waits are bounded and generous; nothing asserts on timing.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
import uuid

import numpy as np
import pytest
from lsl_helpers import WAIT_S, open_out_inlets
from lsl_helpers import until as _until

from neurofb import paths
from neurofb.outputs import LslOutRequest, OscRequest
from neurofb.recording import formats
from neurofb.recording.folder import read_folder
from neurofb.stream.assemble import (
    LslRequest,
    MarkersInRequest,
    RecordRequest,
    ReplayRequest,
    StreamRequest,
    open_stream,
    replay,
)
from neurofb.stream.lsl_source import LslSource


@pytest.fixture(scope="module")
def demo():
    return formats.open_recording(paths.shipped_recordings_dir() / "demo-eegmat")


def _outlet(pylsl, name, rec, *, labels=True, unit="microvolts", fmt="double64",
            source_id=None, names=None, units=None):
    """An EEG outlet of ``rec``'s channels: ``names``/``units`` per channel override the
    recording's labels and the one ``unit``."""
    info = pylsl.StreamInfo(name, "EEG", len(rec.ch_names), rec.sfreq, fmt,
                            source_id or f"{name}-id")
    if labels:
        chans = info.desc().append_child("channels")
        for i, ch in enumerate(rec.ch_names):
            c = chans.append_child("channel")
            c.append_child_value("label", names[i] if names else ch)
            u = units[i] if units else unit
            if u:
                c.append_child_value("unit", u)
            c.append_child_value("type", "EEG")
    return pylsl.StreamOutlet(info, chunk_size=25)


def test_demo_over_lsl_gives_the_replay_trace(lsl_loopback, demo):
    # The demo recording pushed through a real outlet, read by the LSL source, makes the same
    # focus trace as `neurofb replay` of those samples: no sample lost, none changed.
    pylsl = lsl_loopback
    n = int(40 * demo.sfreq)
    name = f"demo-{uuid.uuid4().hex[:8]}"
    outlet = _outlet(pylsl, name, demo)
    stream = open_stream(StreamRequest(LslRequest(name=name, timeout_s=10.0), stall_s=30.0))
    updates: list = []
    stream.runner.add_update_listener(updates.append)
    try:
        assert stream.info.ch_names == demo.ch_names and stream.warning == ""
        stream.start()
        assert outlet.wait_for_consumers(10.0)
        t0 = pylsl.local_clock()
        for a in range(0, n, 25):
            block = demo.data[:, a : min(a + 25, n)].T
            outlet.push_chunk(block.tolist(), [t0 + (a + i) / demo.sfreq
                                               for i in range(block.shape[0])])
        assert _until(lambda: stream.runner.samples >= n), stream.runner.samples
    finally:
        stream.close()
    assert stream.runner.samples == n  # nothing lost, nothing invented
    expected = replay(demo, seconds=n / demo.sfreq)
    assert len(updates) == len(expected) > 100
    for got, want in zip(updates, expected, strict=True):
        assert (got.t, got.focus, got.raw_focus, got.quality, got.reason) == (
            want.t, want.focus, want.raw_focus, want.quality, want.reason)


def test_stream_without_names_or_units_is_named_and_scaled_aloud(lsl_loopback, demo):
    # As the OpenBCI GUI sends it: no labels, no units — here in volts.
    pylsl = lsl_loopback
    name = f"obci-{uuid.uuid4().hex[:8]}"
    outlet = _outlet(pylsl, name, demo, labels=False, fmt="double64")
    stop = threading.Event()

    def push():
        k = 0
        while not stop.is_set():
            outlet.push_chunk((demo.data[:, k : k + 25].T * 1e-6).tolist())
            k = (k + 25) % (demo.n_samples - 25)
            time.sleep(0.05)

    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    try:
        stream = open_stream(StreamRequest(LslRequest(name=name, montage="full"),
                                           target="engagement"))  # fmt: skip
        with stream:
            assert "no unit" in stream.warning and "read as V" in stream.warning
            # receiving since it was made (the second read to guess the unit included): the
            # stream command counts --seconds from its own start, not on top of that second
            assert stream.source_started
            assert stream.info.ch_names == demo.ch_names  # the "full" preset is eegmat's cap
            chunks: list = []
            stream.runner.add_chunk_listener(chunks.append)
            stream.start()
            assert _until(lambda: sum(c.n_samples for c in chunks) > 250)
        data = np.concatenate([c.data for c in chunks], axis=1)
        assert 1.0 < np.median(np.std(data, axis=1)) < 500.0  # µV, not V
        bare = open_stream(StreamRequest(LslRequest(name=name), target="engagement"))
        with bare:
            assert "names no channels" in bare.warning and bare.info.ch_names[0] == "Ch1"
    finally:
        stop.set()
        pusher.join(5)


def test_odd_units_and_names_are_read_or_refused_with_the_reason(lsl_loopback, demo,
                                                                  monkeypatch):
    """A unit on some channels only, a unit neurofb does not know, twice-named channels, and a
    unit-less stream that sends nothing yet: each is read in the unit it says, or refused with
    what to pass, never read in a unit "guessed" from no samples."""
    import neurofb.stream.lsl_source as lsl_source
    from neurofb.errors import BoardError

    pylsl = lsl_loopback
    n_ch = len(demo.ch_names)
    some = _outlet(pylsl, f"some-{uuid.uuid4().hex[:8]}", demo,
                   units=["microvolts"] + [""] * (n_ch - 1))
    source = LslSource(name=some.get_info().name(), timeout_s=10.0)
    assert "channels without a unit are read in the others' unit, uV" in source.warning
    assert source.unit_text == "uV"
    odd = _outlet(pylsl, f"odd-{uuid.uuid4().hex[:8]}", demo, unit="uV/count")
    with pytest.raises(BoardError, match=r"gives the unit 'uV/count', which is not one neurofb "
                                         r"knows .*pass --unit uV"):
        LslSource(name=odd.get_info().name(), timeout_s=10.0)
    told = LslSource(name=odd.get_info().name(), unit="uV", timeout_s=10.0)
    assert "unit 'uV/count' is not one neurofb knows; read as uV (--unit)" in told.warning
    assert told.warning.count("is not one neurofb knows") == 1  # once, not once per channel
    twice = _outlet(pylsl, f"twice-{uuid.uuid4().hex[:8]}", demo,
                    names=["Fz", "Fz", *demo.ch_names[2:]])
    named = LslSource(name=twice.get_info().name(), timeout_s=10.0)
    assert "the stream names Fz more than once: called Ch1" in named.warning
    monkeypatch.setattr(lsl_source, "GUESS_WAIT_S", 1.0)
    silent = _outlet(pylsl, f"silent-{uuid.uuid4().hex[:8]}", demo, unit="")
    with pytest.raises(BoardError, match=r"gives no unit and sent no samples within 1 s to tell "
                                         r"µV from V by: .*--unit uV"):
        LslSource(name=silent.get_info().name(), timeout_s=10.0)
    for s in (source, told, named):
        s.stop()


def test_two_streams_of_one_name_are_said_and_the_one_read_named(lsl_loopback, demo, caplog):
    """liblsl answers with the first stream it hears of: a second sender of the same name was
    never noticed. The first look now waits a moment for others and says which one it reads."""
    import logging

    pylsl = lsl_loopback
    name = f"two-{uuid.uuid4().hex[:8]}"
    outlets = [_outlet(pylsl, name, demo, source_id=f"dev-{c}") for c in "AB"]
    with caplog.at_level(logging.WARNING, logger="neurofb.stream.lsl_source"):
        source = LslSource(name=name, timeout_s=10.0)
        assert _until(lambda: "2 LSL streams match" in caplog.text, timeout=20)
    source.stop()
    assert "'dev-A', 'dev-B'" in caplog.text
    assert f"(source id {source.info.details['lsl_source_id']!r})" in caplog.text
    del outlets


def _sender_and_stream(state: dict, name: str, demo):
    """A thread pushing the demo through ``state["outlet"]`` (none while it is None: the sender
    gone), and an LSL stream of ``name`` that notices a loss within a second and retries every
    half second: (stop event, thread, stream, its status events)."""
    stop = threading.Event()

    def push():
        k = 0
        while not stop.is_set():
            out = state["outlet"]
            if out is not None:
                out.push_chunk(demo.data[:, k : k + 25].T.tolist())
                k = (k + 25) % (demo.n_samples - 25)
            time.sleep(0.05)

    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    events: list = []
    stream = open_stream(StreamRequest(LslRequest(name=name), target="engagement", stall_s=1.0))
    stream.runner.retry_initial_s = stream.runner.retry_max_s = 0.5
    stream.runner.add_status_listener(events.append)
    return stop, pusher, stream, events


def test_a_lost_stream_is_waited_for_not_replaced_by_another_of_its_name(lsl_loopback, demo):
    """After a loss the source looks for the stream it read (its source id): another device
    publishing under the same name is not recorded in its place."""
    pylsl = lsl_loopback
    name = f"same-{uuid.uuid4().hex[:8]}"
    state = {"outlet": _outlet(pylsl, name, demo, source_id="device-A")}
    stop, pusher, stream, events = _sender_and_stream(state, name, demo)
    try:
        stream.start()
        assert _until(lambda: stream.runner.samples > 500)
        state["outlet"] = None  # device A goes away ...
        assert _until(lambda: any(e.kind == "reconnecting" for e in events))
        state["outlet"] = _outlet(pylsl, name, demo, source_id="device-B")  # ... B appears
        tries = sum(e.kind == "reconnecting" for e in events)
        assert _until(lambda: sum(e.kind == "reconnecting" for e in events) >= tries + 3)
        assert not any(e.kind == "resumed" for e in events)  # three looks: B is not A
        state["outlet"] = _outlet(pylsl, name, demo, source_id="device-A")  # A is back
        assert _until(lambda: any(e.kind == "resumed" for e in events))
    finally:
        stop.set()
        pusher.join(5)
        stream.close()


def test_lost_lsl_stream_is_reported_and_resumed(lsl_loopback, demo):
    pylsl = lsl_loopback
    name = f"lost-{uuid.uuid4().hex[:8]}"
    state = {"outlet": _outlet(pylsl, name, demo)}
    stop, pusher, stream, events = _sender_and_stream(state, name, demo)
    try:
        stream.start()
        assert _until(lambda: stream.runner.samples > 500)
        state["outlet"] = None  # the sender quits: its outlet is destroyed
        assert _until(lambda: any(e.kind == "reconnecting" for e in events))
        before = stream.runner.samples
        state["outlet"] = _outlet(pylsl, name, demo)  # ... and comes back
        assert _until(lambda: any(e.kind == "resumed" for e in events))
        assert _until(lambda: stream.runner.samples > before + 250)
    finally:
        stop.set()
        pusher.join(5)
        stream.close()
    kinds = [e.kind for e in events]
    assert kinds.index("reconnecting") < kinds.index("resumed")


def test_focus_and_marker_outlets_read_back_equal_the_trace(lsl_loopback, demo, tmp_path):
    pylsl = lsl_loopback
    name = f"out-{uuid.uuid4().hex[:8]}"
    request = StreamRequest(ReplayRequest(demo, speed=None, seconds=30.0), target="engagement",
                            lsl_out=LslOutRequest(name), trace_path=str(tmp_path / "t.csv"))
    stream = open_stream(request)
    updates: list = []
    stream.runner.add_update_listener(updates.append)
    output = stream.outputs[0]
    focus, marks = open_out_inlets(pylsl, name, output)
    info = focus.info(timeout=10)
    labels = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        labels.append((ch.child_value("label"), ch.child_value("unit")))
        ch = ch.next_sibling("channel")
    assert labels == [("focus", "normalized"), ("raw_focus", "normalized"),
                      ("quality", "fraction"), ("reward_state", "boolean")]
    stream.run()
    samples: list = []
    _until(lambda: (samples.extend(focus.pull_chunk(timeout=0.1)[0]) or len(samples))
           >= len(updates))
    assert len(samples) == len(updates) > 100
    got = np.asarray(samples, dtype=np.float32)
    want = np.asarray([[np.nan if u.focus is None else u.focus,
                        np.nan if u.raw_focus is None else u.raw_focus, u.quality, np.nan]
                       for u in updates], dtype=np.float32)
    np.testing.assert_array_equal(got, want)
    focus.close_stream()
    texts: list = []

    def pull_markers():  # what arrives before the outlet goes away (then LostError)
        try:
            _until(lambda: (texts.extend(s[0] for s in marks.pull_chunk(timeout=0.1)[0])
                            or "session_end" in texts), timeout=20)
        except RuntimeError:
            pass

    reader = threading.Thread(target=pull_markers, daemon=True)
    reader.start()
    _until(lambda: "session_start" in " ".join(texts), timeout=20)
    stream.close()  # sends session_end, and keeps the outlet open while it leaves
    reader.join(30)
    assert texts[0].startswith("session_start") and texts[-1] == "session_end"
    assert output.sender.dropped == 0 and output.sender.errors == 0


def test_focus_timestamps_follow_the_trace(lsl_loopback, demo):
    pylsl = lsl_loopback
    name = f"ts-{uuid.uuid4().hex[:8]}"
    stream = open_stream(StreamRequest(ReplayRequest(demo, speed=None, seconds=12.0),
                                       target="engagement", lsl_out=LslOutRequest(name)))
    updates: list = []
    stream.runner.add_update_listener(updates.append)
    inlet = pylsl.StreamInlet(pylsl.resolve_byprop("name", f"{name}-Focus", timeout=10)[0])
    inlet.open_stream(10)
    assert stream.outputs[0].focus_outlet.wait_for_consumers(10)
    stream.run()
    stamps: list = []
    _until(lambda: (stamps.extend(inlet.pull_chunk(timeout=0.1)[1]) or len(stamps))
           >= len(updates))
    stream.close()
    t = np.asarray([u.t for u in updates])
    assert len(stamps) == len(t)
    np.testing.assert_allclose(np.diff(stamps), np.diff(t), atol=1e-6)


# -- OSC ------------------------------------------------------------------------------------


@pytest.fixture
def osc_server():
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    got: list = []
    lock = threading.Lock()

    def handler(address, *args):
        with lock:
            got.append((address, args))

    dispatcher = Dispatcher()
    dispatcher.set_default_handler(handler)
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], got
    server.shutdown()
    server.server_close()


def test_osc_reaches_a_real_server(osc_server, demo):
    port, got = osc_server
    # paced gently: a burst of datagrams can overflow the receiving socket on a busy machine
    request = StreamRequest(ReplayRequest(demo, speed=4.0, seconds=8.0), target="engagement",
                            osc_out=(OscRequest("127.0.0.1", port),))
    with open_stream(request) as stream:
        updates: list = []
        stream.runner.add_update_listener(updates.append)
        stream.start()
        stream.runner.join(WAIT_S)
        stream.runner.mark("reward", "", 3.0)
        output = stream.outputs[0]
    n = len(updates)
    # the count said is of messages (datagrams), not of updates' batches (34 for 1042 sent)
    assert _until(lambda: len(got) == output.sender.sent, timeout=20)
    assert output.sender.sent > 30 * n and (output.sender.dropped, output.sender.errors) == (0, 0)
    assert _until(lambda: sum(a == "/neurofb/quality" for a, _ in got) >= n, timeout=20)
    quality = [args[0] for a, args in got if a == "/neurofb/quality"]
    assert quality == pytest.approx([u.quality for u in updates], abs=1e-6)
    focus = [args[0] for a, args in got if a == "/openbci/focus"]
    assert focus == pytest.approx([u.focus for u in updates if u.focus is not None], abs=1e-6)
    band0 = [args for a, args in got if a == "/openbci/band-power/0"]
    assert len(band0) == n and all(len(args) == 5 for args in band0)
    assert band0[-1] == pytest.approx([updates[-1].rel_power[0][i] for i in (0, 1, 2, 4, 5)],
                                      abs=1e-6)
    assert {f"/openbci/band-power/{i}" for i in range(19)} <= {a for a, _ in got}
    assert _until(lambda: ("/neurofb/reward", (3.0,)) in got, timeout=20)



def test_osc_band_powers_of_channels_without_data_are_nan_not_made_up(osc_server, demo):
    """All channels NaN for 4 s: /neurofb/band_power/* went on with numbers filtered from the
    held values (delta 0.998) while /neurofb/gated said NaN."""
    from neurofb.types import Chunk

    port, got = osc_server
    from neurofb.focus.bandpower import BandPowerEstimator
    from neurofb.stream.pipeline import Pipeline

    rec = demo
    data = np.array(rec.data[:, : int(20 * rec.sfreq)], dtype=np.float64)
    lost = slice(int(8 * rec.sfreq), int(12 * rec.sfreq))
    data[:, lost] = np.nan
    data[2, : int(6 * rec.sfreq)] = np.nan  # one channel, early: the others' mean goes on
    request = StreamRequest(ReplayRequest(demo, seconds=1.0), target="engagement",
                            osc_out=(OscRequest("127.0.0.1", port, ("neurofb", "openbci")),))
    with open_stream(request) as stream:
        output = stream.outputs[0]
        pipeline = Pipeline(stream.source.info, BandPowerEstimator("engagement"))
        chunk = Chunk(data, np.arange(data.shape[1]) / rec.sfreq, rec.ch_names, rec.sfreq)
        updates = pipeline.process(chunk)
        for u in updates:  # paced: a burst of datagrams overflows the receiver's buffer
            output.on_update(u)
            time.sleep(0.03)
        output.close()
    sent = lambda a: [args for addr, args in got if addr == a]  # noqa: E731
    assert _until(lambda: len(sent("/neurofb/quality")) == len(updates), timeout=20)
    alpha, gated = sent("/neurofb/band_power/alpha"), sent("/neurofb/gated")
    ch2 = sent("/openbci/band-power/2")
    for u, a, g, c in zip(updates, alpha, gated, ch2, strict=True):
        start = u.t - 2.0
        if start < 12.0 and u.t > 8.0:  # every channel lost some of the window
            assert g[0] == 1 and "NaN" in g[1] and math.isnan(a[0]) and all(map(math.isnan, c))
        elif start < 6.0:  # channel 2 only: its powers NaN, the mean of the others finite
            assert math.isfinite(a[0]) and all(map(math.isnan, c))
        else:
            assert math.isfinite(a[0]) and all(map(math.isfinite, c))

def test_osc_to_nobody_and_failing_sends_never_stop_the_stream(demo):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # then closed: nobody listens there
    request = StreamRequest(ReplayRequest(demo, speed=None, seconds=20.0), target="engagement",
                            osc_out=(OscRequest("127.0.0.1", port),))
    with open_stream(request) as stream:
        updates: list = []
        stream.runner.add_update_listener(updates.append)
        stream.runner.mark("note", "x" * 70_000)  # too long for a datagram: a real send error
        stream.run()
        output = stream.outputs[0]
    assert len(updates) == len(replay(demo, seconds=20.0, target="engagement"))
    assert output.sender.errors >= 1 and "too long" in output.sender.last_error.lower()
    assert output.sender.sent >= len(updates)



@pytest.mark.parametrize("text, expected", [
    ("9000", ("127.0.0.1", 9000)), (":9000", ("127.0.0.1", 9000)),
    ("127.0.0.1:9000", ("127.0.0.1", 9000)), ("localhost:12345", ("localhost", 12345)),
    ("[::1]:9000", ("::1", 9000)), ("game-pc.local:9000", ("game-pc.local", 9000)),
    # each of these was taken, then looked up by name (or read as another address)
    ("::1", None), ("127.0.0.1:9000:9001", None), ("http://127.0.0.1:9000", None),
    ("1.2.3.4.5:9000", None), ("256.0.0.1:9000", None),
    ("127.0.0.1:\u0669\u0660\u0660\u0660", None), (":9_000", None),
    ("a_b:9000", None), ("[zz]:9000", None), ("host:0", None),
])
def test_an_osc_address_is_checked_for_its_form_before_any_lookup(text, expected):
    from neurofb.outputs.osc import parse_address

    if expected is None:
        with pytest.raises(ValueError, match=r"expected HOST:PORT|port must be"):
            parse_address(text)
    else:
        assert parse_address(text) == expected


def test_a_malformed_osc_address_is_refused_before_the_board_opens(capsys):
    from neurofb.cli import main

    with pytest.raises(SystemExit) as exited:  # argparse's refusal: nothing opened yet
        main(["stream", "--seconds", "1", "--osc-out", "127.0.0.1:9000:9001"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "expected HOST:PORT" in err and len(err.strip().splitlines()) <= 2

def test_bad_osc_host_is_a_clear_error(demo):
    from neurofb.outputs import OutputError

    with pytest.raises(OutputError, match="cannot resolve the OSC host"):
        open_stream(StreamRequest(ReplayRequest(demo, seconds=5.0), target="engagement",
                                  osc_out=(OscRequest("no-such-host.invalid", 9000),)))


# -- markers in -----------------------------------------------------------------------------


def test_markers_in_land_in_the_recording_on_its_clock(lsl_loopback, demo, tmp_path):
    pylsl = lsl_loopback
    name = f"eeg-{uuid.uuid4().hex[:8]}"
    stim = f"stim-{uuid.uuid4().hex[:8]}"
    outlet = _outlet(pylsl, name, demo)
    markers_out = pylsl.StreamOutlet(pylsl.StreamInfo(stim, "Markers", 1, 0, "string", stim))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        udp_port = s.getsockname()[1]
    request = StreamRequest(LslRequest(name=name), target="engagement",
                            record=RecordRequest(path=str(tmp_path / "rec")),
                            markers_in=MarkersInRequest(f"lsl:{stim}"))
    stream = open_stream(request)
    stop = threading.Event()
    stamps: dict[int, float] = {}

    def push():
        k = 0
        while not stop.is_set() and k < demo.n_samples - 25:
            now = pylsl.local_clock()
            ts = [now - (24 - i) / demo.sfreq for i in range(25)]
            stamps.update({k + i: t for i, t in enumerate(ts)})
            outlet.push_chunk(demo.data[:, k : k + 25].T.tolist(), ts)
            k += 25
            time.sleep(0.1)

    pusher = threading.Thread(target=push, daemon=True)
    try:
        stream.start()
        assert outlet.wait_for_consumers(10)
        pusher.start()
        assert _until(lambda: stream.runner.samples > 600)
        assert _until(lambda: stream.markers_in is not None and markers_out.have_consumers(),
                      timeout=20)
        markers_out.push_sample(["block_start:task"], stamps[500])  # stamped as sample 500
        assert _until(lambda: stream.markers_in.received >= 1, timeout=20)
        assert _until(lambda: stream.runner.samples > 900)
    finally:
        stop.set()
        pusher.join(5)
        closed = stream.close()
    rec = read_folder(closed.recording.path)
    task = [m for m in rec.markers if m.kind == "block_start"]
    assert len(task) == 1 and task[0].label == "task"
    assert task[0].t == pytest.approx(500 / demo.sfreq, abs=0.05)
    # UDP markers (127.0.0.1 only): text in, a marker out
    request = StreamRequest(ReplayRequest(demo, speed=1.0, seconds=4.0), target="engagement",
                            record=RecordRequest(path=str(tmp_path / "rec2")),
                            markers_in=MarkersInRequest(f"udp:{udp_port}"))
    stream = open_stream(request)
    stream.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            _until(lambda: stream.runner.samples > 250)
            for text in (b"Stimulus/S  7", b"reward:=nan", b"session_end", b"reward:=2.5"):
                s.sendto(text, ("127.0.0.1", udp_port))
            assert _until(lambda: stream.markers_in.received >= 4, timeout=20)
        stream.runner.join(WAIT_S)
    finally:
        closed = stream.close()
    markers = read_folder(closed.recording.path).markers
    notes = [m for m in markers if m.kind == "note"]
    # a value that is no number stays text; the session's own bounds are not another program's
    assert [m.label for m in notes] == ["Stimulus/S  7", "reward:=nan", "session_end"]
    assert all(math.isfinite(m.t) for m in notes)
    assert [m.value for m in markers if m.kind == "reward"] == [2.5]
    assert "session_end" not in [m.kind for m in markers]
    lines = (closed.recording.path / "markers.jsonl").read_text().splitlines()
    def strict(word):
        raise ValueError(word)
    assert len([json.loads(line, parse_constant=strict) for line in lines]) == len(markers)


def test_cli_outputs(lsl_loopback, osc_server, capsys, tmp_path):
    from neurofb.cli import main

    port, got = osc_server
    name = f"cli-{uuid.uuid4().hex[:8]}"
    demo_dir = str(paths.shipped_recordings_dir() / "demo-eegmat")
    assert main(["replay", demo_dir, "--seconds", "6", "--target", "engagement", "--speed", "4",
                 "--osc-out", f"127.0.0.1:{port}", "--osc-format", "openbci",
                 "--lsl-out", name]) == 0
    out = capsys.readouterr().out
    assert f"OSC out 127.0.0.1:{port}: " in out and f"LSL out {name}-Focus/-Markers" in out
    assert _until(lambda: any(a == "/openbci/band-power/0" for a, _ in got), timeout=20)
    assert not any(a.startswith("/neurofb/") for a, _ in got)
    # without --speed, focus sent out goes in real time (max sent the demo in 0.7 s, mostly lost)
    assert main(["replay", demo_dir, "--seconds", "2.5", "--target", "engagement",
                 "--osc-out", f"127.0.0.1:{port}"]) == 0
    captured = capsys.readouterr()
    assert "real time (--speed 1)" in captured.err and "at speed 1x" in captured.out
    assert main(["replay", demo_dir, "--seconds", "2.5", "--target", "engagement",
                 "--osc-out", f"127.0.0.1:{port}", "--speed", "max"]) == 0  # as asked
    captured = capsys.readouterr()
    assert "real time" not in captured.err and "at speed max" in captured.out
    assert main(["replay", demo_dir, "--seconds", "3", "--lsl-config",
                 str(tmp_path / "missing.cfg")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["replay", demo_dir, "--seconds", "3", "--markers-in", "tcp:9"]) == 2
    assert "lsl:NAME or udp:PORT" in capsys.readouterr().err


def test_replay_sends_the_recordings_markers_where_they_fell(osc_server, demo):
    """``neurofb replay`` hands the recording's own markers to the outputs, at their samples,
    between the updates around them (not its session_start/_end: the replay is a session)."""
    from neurofb.cli import main

    recorded = [m for m in demo.markers if m.kind not in ("session_start", "session_end")]
    switch = next(m for m in recorded if m.kind == "block_start" and m.label == "task")
    seek = math.floor(switch.t) - 5.0
    request = StreamRequest(ReplayRequest(demo, speed=None, seek_s=seek, seconds=10.0,
                                          markers=True), target="engagement")
    events: list = []
    with open_stream(request) as stream:
        stream.runner.add_update_listener(lambda u: events.append(("update", u)))
        stream.runner.add_marker_listener(lambda m: events.append(("marker", m)))
        stream.run()
    got = [m for kind, m in events if kind == "marker"]
    expected = [m for m in recorded if seek <= m.t < seek + 10.0]
    assert [(m.kind, m.label) for m in got] == [(m.kind, m.label) for m in expected] != []
    at = round(switch.t * demo.sfreq) / demo.sfreq - seek  # its sample, on the stream's clock
    assert [m.t for m in got if m is not None and m.label == "task"] == [pytest.approx(at)]
    times = [(kind, x.t) for kind, x in events]
    i = times.index(("marker", pytest.approx(at)))
    assert all(t < at for kind, t in times[:i] if kind == "update")
    assert all(t >= at for kind, t in times[i + 1:] if kind == "update")

    port, received = osc_server
    demo_dir = str(paths.shipped_recordings_dir() / "demo-eegmat")
    # paced: at --speed max a burst of datagrams can overflow the receiver's socket buffer
    assert main(["replay", demo_dir, "--seek", str(seek), "--seconds", "10", "--target",
                 "engagement", "--speed", "5", "--osc-out", f"127.0.0.1:{port}",
                 "--osc-format", "neurofb"]) == 0
    sent = lambda: [args[:2] for a, args in received if a == "/neurofb/marker"]  # noqa: E731
    assert _until(lambda: len(sent()) >= len(expected) + 2, timeout=20)
    # the recording's markers, between the replay's own session_start and session_end
    assert sent()[0] == ("session_start", "eegmat-demo") and sent()[-1] == ("session_end", "")
    assert sorted(sent()[1:-1]) == sorted((m.kind, m.label) for m in expected)


def test_boards_lsl_lists_the_visible_streams(lsl_loopback, demo, capsys):
    """`neurofb boards --lsl`: what the "no LSL stream found" error points to."""
    from neurofb.cli import main

    name = f"listed-{uuid.uuid4().hex[:8]}"
    outlet = _outlet(lsl_loopback, name, demo)
    assert main(["boards", "--lsl", "--wait", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    (row,) = [r for r in rows if r["name"] == name]
    assert (row["type"], row["channel_count"], row["sfreq"]) == ("EEG", 19, demo.sfreq)
    assert main(["boards", "--lsl", "--wait", "3"]) == 0
    assert name in capsys.readouterr().out
    del outlet
    assert main(["boards", "--wait", "3"]) == 2
    assert "go with --lsl" in capsys.readouterr().err


def test_a_followed_sessions_skip_and_end_markers_reach_the_receiver(lsl_loopback, osc_server,
                                                                    demo, tmp_path):
    """Skip (baseline:skipped, the rest block's end) and End session (the exercise block's end)
    come outside a step: a game never saw them, though the recording had them. And the
    stream's end is said over OSC as over LSL."""
    from neurofb.practice.exercises import make_exercise
    from neurofb.practice.session import PracticeSession
    from neurofb.stream.recorder import StreamRecorder

    port, got = osc_server
    name = f"follow-{uuid.uuid4().hex[:8]}"
    # paced gently, neurofb's addresses only: a burst of datagrams can overflow the receiving
    # socket on a busy machine
    request = StreamRequest(ReplayRequest(demo, speed=4.0), target="model",
                            osc_out=(OscRequest("127.0.0.1", port, formats=("neurofb",)),),
                            lsl_out=LslOutRequest(name))  # fmt: skip
    stream = open_stream(request)
    lsl = next(o for o in stream.outputs if hasattr(o, "marker_outlet"))
    _, marks = open_out_inlets(lsl_loopback, name, lsl)
    texts: list = []

    def pull_markers():  # what arrives before the outlet goes away
        try:
            _until(lambda: (texts.extend(x[0] for x in marks.pull_chunk(timeout=0.1)[0])
                            or "session_end" in texts), timeout=60)
        except Exception:  # the outlet went away (LostError)
            pass

    reader = threading.Thread(target=pull_markers, daemon=True)
    reader.start()
    try:
        recorder = StreamRecorder(stream.info, path=tmp_path / "rec")  # as the app records
        recorder.attach(stream.runner)
        session = PracticeSession(stream.runner, make_exercise("gauge", duration_s=None),
                                  recorder=recorder, rest_s=30.0, baseline=stream)
        steps: list = []
        session.add_step_listener(steps.append)
        stream.follow(session)
        session.start()
        stream.start()
        assert _until(lambda: len(steps) >= 4, timeout=WAIT_S)
        session.skip_rest()
        n = len(steps)
        assert _until(lambda: len(steps) >= n + 4, timeout=WAIT_S)
        assert all(o._marks.following for o in stream.outputs)
        session.finish()
        # the session is over: the outputs go back to the stream's own updates and markers
        assert not any(o._marks.following for o in stream.outputs)
    finally:
        stream.close()
        recorder.finish()

    def markers():
        return [(args[0], args[1]) for a, args in got if a == "/neurofb/marker"]

    wanted = [("block_end", "baseline-rest"), ("baseline", "skipped"), ("block_end", "gauge"),
              ("session_end", "")]
    assert _until(lambda: all(w in markers() for w in wanted), timeout=20), markers()
    recorded = {(m.kind, m.label) for m in session.markers}
    assert set(wanted[:3]) <= recorded  # what the recording has, the receiver has
    assert markers().count(("block_end", "gauge")) == 1  # once, not also from the runner
    reader.join(30)
    for text in ("block_end:baseline-rest", "baseline:skipped", "block_end:gauge"):
        assert texts.count(text) == 1, texts  # the same over LSL
