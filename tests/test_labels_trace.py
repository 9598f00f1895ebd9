"""Label blocks from markers; the trace CSV round trip."""

from __future__ import annotations

from neurofb.recording.labels import blocks, labelled_blocks
from neurofb.recording.trace import COLUMNS, TraceWriter, read_trace
from neurofb.types import Marker, Update


def test_blocks_pair_start_and_end_and_close_open_ones():
    markers = [
        Marker(0.0, "block_start", "rest"),
        Marker(30.0, "block_end", "rest"),
        Marker(31.0, "block_start", "task"),
        Marker(50.0, "block_end", "task"),
        Marker(55.0, "block_start", "gauge"),
        Marker(60.0, "block_start", "rest"),
    ]
    got = blocks(markers, end_s=70.0)
    assert [(b.label, b.start_s, b.end_s) for b in got] == [
        ("rest", 0.0, 30.0), ("task", 31.0, 50.0), ("gauge", 55.0, 70.0), ("rest", 60.0, 70.0)
    ]
    assert [b.y for b in labelled_blocks(markers)] == [0, 1]


def test_trace_round_trip(tmp_path):
    path = tmp_path / "t.csv"
    up = Update(
        t=2.0, focus=None, raw_focus=None, quality=0.1, reason="flat: Fz", channel_quality=(0.1,),
        channel_reasons=("flat",), attention=None, rel_power=((0.2,),), latency_s=0.01,
        sample_index=500,
    )
    with TraceWriter(path) as w:
        w.write(up)
        w.write(Update(**{**up.__dict__, "focus": 0.5, "raw_focus": 0.4, "reason": ""}))
    rows = read_trace(path)
    assert tuple(rows[0]) == COLUMNS
    assert rows[0]["focus"] == "" and rows[0]["reason"] == "flat: Fz"
    assert float(rows[1]["focus"]) == 0.5
