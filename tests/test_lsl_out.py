"""LSL out read back by real inlets (liblsl on loopback, conftest.py); no timing asserts."""

from __future__ import annotations

import threading
import uuid

import numpy as np
from lsl_helpers import open_out_inlets, until

from neurofb import paths
from neurofb.outputs import LslOutRequest
from neurofb.recording import formats
from neurofb.stream.assemble import ReplayRequest, StreamRequest, open_stream


def replay_out(prefix: str, *, speed: float, seconds: float):
    """A replay of the demo with LSL out under a fresh name: (demo, name, stream, its updates)."""
    demo = formats.open_recording(paths.shipped_recordings_dir() / "demo-eegmat")
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    stream = open_stream(StreamRequest(ReplayRequest(demo, speed=speed, seconds=seconds),
                                       target="engagement", lsl_out=LslOutRequest(name)))
    updates: list = []
    stream.runner.add_update_listener(updates.append)
    return demo, name, stream, updates


def test_session_end_follows_the_last_focus_sample_on_the_streams_clock(lsl_loopback):
    # A replay faster than real time stamps its samples ahead of the wall clock: session_end
    # must be stamped on that same clock (the sample after the last), not with the wall clock.
    pylsl = lsl_loopback
    demo, name, stream, updates = replay_out("end", speed=10.0, seconds=20.0)
    focus, marks = open_out_inlets(pylsl, name, stream.outputs[0])
    stream.run()
    stamps: list = []
    until(lambda: (stamps.extend(focus.pull_chunk(timeout=0.1)[1]) or len(stamps))
          >= len(updates))  # fmt: skip
    got: list = []

    def pull_markers() -> None:  # what arrives before the outlet goes away (then LostError)
        try:
            until(lambda: any(text == "session_end" for text, _ in got) or bool(
                got.extend((s[0], t) for s, t in zip(*marks.pull_chunk(timeout=0.1),
                                                     strict=True))), timeout=20)
        except RuntimeError:
            pass

    reader = threading.Thread(target=pull_markers, daemon=True)
    reader.start()
    until(lambda: bool(got), timeout=20)
    stream.close()
    reader.join(30)
    assert len(stamps) == len(updates) > 50
    texts = [text for text, _ in got]
    assert texts[0].startswith("session_start") and texts[-1] == "session_end", texts
    marker_stamps = np.asarray([t for _, t in got])
    assert np.all(np.diff(marker_stamps) >= 0)
    assert marker_stamps[0] <= stamps[0] < stamps[-1] < marker_stamps[-1]
    # the sample after the last one of the stream, on the clock the focus samples use
    n = round(updates[-1].t * demo.sfreq)
    assert np.isclose(marker_stamps[-1] - stamps[-1], (stream.runner.samples - n + 1) / demo.sfreq,
                      atol=1e-6)  # fmt: skip


def test_a_receiver_that_connects_after_the_start_still_gets_session_start(lsl_loopback):
    """session_start was pushed as the outlet appeared, before any inlet could connect (liblsl
    gives an inlet only what comes after it connects): no receiver ever saw it. It is now held
    for the first receiver, with its own time."""
    pylsl = lsl_loopback
    _, name, stream, updates = replay_out("start", speed=2.0, seconds=30.0)
    stream.start()
    try:
        until(lambda: len(updates) >= 4)  # the stream is well under way: session_start is due
        info = pylsl.resolve_byprop("name", f"{name}-Markers", timeout=10)[0]
        marks = pylsl.StreamInlet(info, recover=False)
        marks.open_stream(10)
        got: list = []
        until(lambda: bool(got.extend(zip(*marks.pull_chunk(timeout=0.1), strict=True)))
              or any(s[0].startswith("session_start") for s, _ in got), timeout=20)
    finally:
        stream.runner.stop()
        stream.close()
    (sample, stamp), *_ = [(s, t) for s, t in got if s[0].startswith("session_start")]
    assert sample[0] == "session_start:eegmat-demo"
    first = stream.outputs[0].clock.lsl_time(0)
    assert abs(stamp - first) < 1e-6  # stamped when the stream started, not when it was sent


def test_a_marker_made_before_the_first_sample_carries_sample_0s_time(lsl_loopback):
    """`neurofb stream` marks session_start before its source delivers: the stamp was the LSL
    clock at that moment, not the time of sample 0 (a board's first samples come a second
    later). It is now placed when the first chunk tells the clock where sample 0 lies."""
    import time

    from neurofb.outputs.clock import StreamClock
    from neurofb.outputs.lsl_out import LslOutput
    from neurofb.types import Chunk, Marker, SourceInfo

    pylsl = lsl_loopback
    name = f"early-{uuid.uuid4().hex[:8]}"
    info = SourceInfo(("Fz", "Cz", "Pz"), 250.0, "board")
    out = LslOutput(LslOutRequest(name), info, hop_s=0.25, clock=StreamClock(250.0, live=True))
    try:
        _, marks = open_out_inlets(pylsl, name, out)
        out.on_marker(Marker(0.0, "session_start", "board"))
        t0 = time.time() - 5.0  # the board stamped its first sample 5 s ago (Unix time)
        out.on_chunk(Chunk(np.zeros((3, 25)), t0 + np.arange(25) / 250.0, info.ch_names, 250.0,
                           first_sample=0, board="board"))
        got: list = []
        assert until(lambda: got.extend(zip(*marks.pull_chunk(timeout=0.1), strict=True))
                     or bool(got), timeout=20)
    finally:
        out.close()
    (sample, stamp), *_ = got
    assert sample[0] == "session_start:board"
    assert abs(stamp - (t0 - out.clock.unix_minus_lsl)) < 1e-6
