"""Markers in from another program's LSL stream: real liblsl on loopback (conftest.py).

Waits are bounded and generous; nothing asserts on timing.
"""

from __future__ import annotations

import uuid

import pytest
from lsl_helpers import until

from neurofb import paths
from neurofb.recording import formats
from neurofb.recording.folder import read_folder
from neurofb.stream.assemble import (
    MarkersInRequest,
    RecordRequest,
    ReplayRequest,
    StreamRequest,
    open_stream,
)
from neurofb.types import Marker


def _received(lsl, tmp_path, name: str, info, samples: list) -> list[Marker]:
    """Markers a replayed stream records from the LSL marker stream ``info`` sending ``samples``."""
    demo = formats.open_recording(paths.shipped_recordings_dir() / "demo-eegmat")
    outlet = lsl.StreamOutlet(info)
    request = StreamRequest(ReplayRequest(demo, speed=1.0, seconds=30.0), target="engagement",
                            record=RecordRequest(path=str(tmp_path / "rec")),
                            markers_in=MarkersInRequest(f"lsl:{name}"))  # fmt: skip
    stream = open_stream(request)
    try:
        stream.start()
        assert until(outlet.have_consumers), f"markers-in never found the stream {name!r}"
        for sample in samples:
            outlet.push_sample(sample, lsl.local_clock())
        assert until(lambda: stream.markers_in.received >= len(samples))
        t = stream.runner.t
        assert until(lambda: stream.runner.t > t + 0.5)  # delivered on the runner's thread
    finally:
        closed = stream.close()
    return [m for m in read_folder(closed.recording.path).markers
            if m.kind not in ("session_start", "session_end")]


def test_markers_in_finds_a_stream_whose_name_has_quotes(lsl_loopback, tmp_path):
    # PsychoPy-style "x:y" text is a note unless x is one of neurofb's marker kinds
    name = f"""Bob's "stim" {uuid.uuid4().hex[:8]}"""
    info = lsl_loopback.StreamInfo(name, "Markers", 1, 0, "string", f"src-{uuid.uuid4().hex}")
    texts = ["stim:face", "kind:lab=3.5", "block_start:task"]
    markers = _received(lsl_loopback, tmp_path, name, info, [[t] for t in texts])
    assert [(m.kind, m.label, m.value) for m in markers] == [
        ("note", "stim:face", None), ("note", "kind:lab=3.5", None),
        ("block_start", "task", None)]  # fmt: skip


def test_numeric_trigger_codes_come_in_as_their_number(lsl_loopback, tmp_path):
    name = f"Triggers-{uuid.uuid4().hex[:8]}"
    info = lsl_loopback.StreamInfo(name, "Markers", 2, 0, "int32", f"src-{uuid.uuid4().hex}")
    markers = _received(lsl_loopback, tmp_path, name, info, [[5, 0], [5, 7]])
    assert [(m.kind, m.label) for m in markers] == [("note", "5,0"), ("note", "5,7")]


@pytest.mark.parametrize("name", ["plain", "it's", 'say "hi"', """it's "both" """])
def test_xpath_literal_selects_the_stream_by_its_exact_name(lsl_loopback, name):
    from neurofb.lsl import xpath_literal

    unique = f"{name}-{uuid.uuid4().hex[:8]}"
    outlet = lsl_loopback.StreamOutlet(
        lsl_loopback.StreamInfo(unique, "Markers", 1, 0, "string", f"src-{uuid.uuid4().hex}"))
    found = lsl_loopback.resolve_bypred(f"name={xpath_literal(unique)}", 1, 10.0)
    assert [s.name() for s in found] == [unique]
    del outlet


def test_a_marker_sent_during_a_gap_lands_on_the_first_sample_after_it():
    """Live, the EEG stops for a while and a marker comes during the pause: it waits for the
    samples to reach its time, then lies on the first sample after the gap (sample 250 here),
    not 2 s of nominal-rate counting past the last sample before it (sample ~750, in data that
    came later). Real UDP on loopback and a real StreamClock fed the chunks a live source
    would deliver."""
    import socket
    import time

    import numpy as np

    from neurofb.outputs.clock import StreamClock
    from neurofb.stream.markers_in import MarkersIn
    from neurofb.types import Chunk

    class Marks:  # the runner's side of the protocol: what it is asked to mark
        def __init__(self) -> None:
            self.made: list[Marker] = []

        def mark(self, kind, label="", value=None, *, t=None):
            self.made.append(Marker(t, kind, label, value))
            return self.made[-1]

    def chunk(first: int, unix0: float) -> Chunk:
        return Chunk(np.zeros((3, 250)), unix0 + np.arange(250) / 250.0, ("Fz", "Cz", "Pz"),
                     250.0, first_sample=first, board="board")

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock, marks = StreamClock(250.0, live=True), Marks()
    markers = MarkersIn(MarkersInRequest(f"udp:{port}"), marks, clock)
    markers.start()
    try:
        clock.on_chunk(chunk(0, time.time() - 3.0))  # samples until 2 s ago, then nothing
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as send:
            send.sendto(b"note:in the gap", ("127.0.0.1", port))
        assert until(lambda: len(markers._waiting) == 1)  # ahead of the samples: it waits
        assert marks.made == []
        clock.on_chunk(chunk(250, time.time() + 0.5))  # the samples resume
        assert until(lambda: len(marks.made) == 1)
    finally:
        markers.close()
    assert marks.made[0].label == "in the gap" and marks.made[0].t == 250 / 250.0


def test_an_eeg_stream_given_as_markers_is_refused(lsl_loopback):
    """--markers-in lsl:NAME naming a regular-rate stream (EEG): every sample became a note
    (1,200 in 5 s); it is now refused, naming why."""
    from neurofb.outputs.clock import StreamClock
    from neurofb.stream.markers_in import MarkersIn

    name = f"NotMarkers-{uuid.uuid4().hex[:8]}"
    info = lsl_loopback.StreamInfo(name, "EEG", 2, 250.0, "float32", f"src-{uuid.uuid4().hex}")
    outlet = lsl_loopback.StreamOutlet(info)
    errors: list[str] = []
    markers = MarkersIn(MarkersInRequest(f"lsl:{name}"), None, StreamClock(250.0, live=True),
                        on_error=errors.append)
    markers.start()
    try:
        assert until(lambda: bool(errors))
    finally:
        markers.close()
        del outlet
    assert "has a regular sampling rate (250 Hz): it is a signal (EEG?), not markers" in errors[0]
