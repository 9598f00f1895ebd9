"""A flat, railed or wildly noisy channel is left out of the focus estimate, not averaged in:
on real EEG (the demo recording) with one electrode ruined, the attention model scores the
others exactly as it scores a recording that never had that electrode; the band-power target
averages over the usable channels; and when too few remain the window has no focus, with the
reason naming the channel."""

from __future__ import annotations

import numpy as np
import pytest

from neurofb import paths
from neurofb.recording import open_recording
from neurofb.recording.base import Recording
from neurofb.stream.assemble import replay
from neurofb.types import SourceInfo

DEMO = paths.shipped_recordings_dir() / "demo-eegmat"
SECONDS = 40


@pytest.fixture(scope="module")
def demo() -> Recording:
    rec = open_recording(DEMO)
    n = int(SECONDS * rec.sfreq)
    return Recording(rec.info, rec.meta, np.asarray(rec.data[:, :n]).copy(),
                     np.asarray(rec.timestamps[:n]).copy())


def _with(rec: Recording, names: list[str], data: np.ndarray) -> Recording:
    return Recording(SourceInfo(tuple(names), rec.sfreq, rec.info.board), rec.meta, data,
                     rec.timestamps)


def _ruined(rec: Recording, channel: str, how: str) -> Recording:
    data = np.array(rec.data, copy=True)
    i = rec.ch_names.index(channel)
    if how == "railed":
        data[i] = 187_500.0  # an ADC at its rail
    elif how == "flat":
        data[i] = 0.0  # an electrode shorted to the reference
    else:  # 5 mV of noise: a loose electrode
        data[i] = np.random.default_rng(0).normal(0.0, 5000.0, data.shape[1])
    return _with(rec, list(rec.ch_names), data)


def _without(rec: Recording, channels: list[str]) -> Recording:
    keep = [i for i, c in enumerate(rec.ch_names) if c not in channels]
    return _with(rec, [rec.ch_names[i] for i in keep], np.asarray(rec.data)[keep])


@pytest.mark.parametrize("how", ["railed", "flat", "noise"])
def test_a_ruined_electrode_is_left_out_of_the_model(demo, how):
    ruined = replay(_ruined(demo, "Cz", how))
    without = replay(_without(demo, ["Cz"]))
    assert len(ruined) == len(without) > 100
    cz = demo.ch_names.index("Cz")
    for r, w in zip(ruined, without, strict=True):
        assert r.focus is not None and r.raw_focus == w.raw_focus  # exactly, window by window
        assert r.attention[cz] == 0.0
        assert list(np.delete(r.attention, cz)) == list(w.attention)
        assert "Cz" in r.reason and r.channel_quality[cz] < 0.5
    clean = replay(demo)
    assert [u.raw_focus for u in clean] != [u.raw_focus for u in ruined]  # it was used before


def test_a_ruined_electrode_is_left_out_of_a_band_power_target(demo):
    ruined = replay(_ruined(demo, "O1", "railed"), target="engagement")
    without = replay(_without(demo, ["O1"]), target="engagement")
    assert len(ruined) == len(without) > 100
    assert [u.raw_focus for u in ruined] == pytest.approx([u.raw_focus for u in without],
                                                           rel=1e-12)


def test_too_few_usable_electrodes_give_no_focus_and_say_why(demo):
    four = _without(demo, [c for c in demo.ch_names if c not in ("T7", "Fp1", "Fp2", "T8")])
    data = np.array(four.data, copy=True)
    data[four.ch_names.index("T7")] = 187_500.0  # railed: 3 of 4 left, the model's minimum
    data[four.ch_names.index("Fp1")] = 0.0  # flat: 2 left
    updates = replay(_with(four, list(four.ch_names), data))
    assert updates and all(u.quality >= 0.5 for u in updates)  # the window itself passes
    assert all(u.focus is None for u in updates)
    assert all("too few usable channels" in u.reason and "T7" in u.reason and "Fp1" in u.reason
               for u in updates)


def test_a_baseline_is_learned_from_windows_with_every_electrode(demo):
    """Baseline mode: windows of the rest with an electrode left out do not feed the
    baseline; with the electrode bad throughout the rest, the baseline fails and says so."""
    from neurofb.config import EngineConfig

    config = EngineConfig(model_baseline_s=20.0)
    ruined = replay(_ruined(demo, "Pz", "flat"), config=config)
    modes = {u.mode for u in ruined if u.focus is not None}
    assert "baseline" not in modes and "baseline-failed" in modes
    clean = replay(demo, config=config)
    assert "baseline" in {u.mode for u in clean}


def test_an_estimator_that_cannot_leave_channels_out_is_gated_not_fed_them(demo):
    """A target written to the older interface (predict without ``usable``) keeps working; a
    window with a ruined channel is then gated, naming it, instead of scored with it."""
    from neurofb.config import EngineConfig
    from neurofb.focus.bandpower import BandPowerEstimator
    from neurofb.stream.pipeline import Pipeline
    from neurofb.types import Chunk

    class Older:
        name = "older"

        def bind(self, ch_names, sfreq, *, hop_s=None):
            real = BandPowerEstimator("engagement").bind(ch_names, sfreq, hop_s=hop_s)

            class Bound:
                stateless = False
                reset = real.reset

                def predict(self, windows, features, *, t_end=None):
                    return real.predict(windows, features, t_end=t_end)

            return Bound()

    def run(rec):
        info = SourceInfo(tuple(rec.ch_names), rec.sfreq, "test", live=True)
        with Pipeline(info, Older(), EngineConfig()) as pipe:
            return pipe.process(Chunk(np.asarray(rec.data), np.asarray(rec.timestamps),
                                      tuple(rec.ch_names), rec.sfreq))

    assert all(u.focus is not None for u in run(demo))
    ruined = run(_ruined(demo, "O2", "railed"))
    assert ruined and all(u.focus is None and "O2" in u.reason for u in ruined)
