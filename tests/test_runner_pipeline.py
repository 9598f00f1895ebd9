"""End to end: the real synthetic board → StreamRunner → neurofb's Pipeline → focus updates."""

from __future__ import annotations

import threading

import pytest
from board_helpers import wait_for

from neurofb.config import EngineConfig
from neurofb.focus.targets import make_estimator
from neurofb.stream.brainflow import open_board
from neurofb.stream.pipeline import Pipeline
from neurofb.stream.runner import StreamRunner
from neurofb.types import Update


@pytest.mark.parametrize("min_quality", [None, 0.9])
def test_synthetic_board_gives_focus_updates(min_quality):
    source = open_board("synthetic")
    config = EngineConfig(window_s=1.0, hop_s=0.25).with_(min_quality=min_quality)
    pipeline = Pipeline(source.info, make_estimator("engagement"), config)
    runner = StreamRunner(source, pipeline)
    updates: list[Update] = []
    lock = threading.Lock()

    def keep(update: Update) -> None:
        with lock:
            updates.append(update)

    runner.add_update_listener(keep)
    runner.start()
    try:
        assert wait_for(lambda: len(updates) >= 8)
    finally:
        runner.stop()
    sfreq = source.info.sfreq
    hop = pipeline.hop_samples
    with lock:
        got = list(updates)
    # One update per hop once the first window is full, whatever the chunking was.
    assert [u.sample_index for u in got] == [
        pipeline.window_samples + k * hop for k in range(len(got))
    ]
    gate = pipeline.min_quality  # the pipeline's gate in force for this source
    for u in got:
        assert u.t == pytest.approx(u.sample_index / sfreq)
        assert 0.0 <= u.quality <= 1.0
        assert len(u.channel_quality) == len(source.info.ch_names)
        assert u.latency_s >= 0
        if u.quality >= gate:
            assert u.focus is not None and 0.0 <= u.focus <= 1.0
        else:
            assert u.focus is None and u.reason
    if min_quality is None:
        # By default the synthetic test signal is not gated, so the chain shows focus values.
        assert all(u.focus is not None for u in got)
    assert runner.updates >= len(got)
