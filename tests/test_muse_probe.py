"""The Muse probe's simulated recording (scripts/muse_probe.py): Muse's sites, referenced to Fpz."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from neurofb.dsp.montage import PRESETS

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "muse_probe.py"


def _probe():
    spec = importlib.util.spec_from_file_location("muse_probe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_signal_common_to_every_electrode_vanishes_at_the_fpz_reference():
    # Spherical splines reproduce a constant field, so a signal every electrode shares is the
    # same at Muse's sites and at Fpz, and the Fpz reference removes it.
    names = tuple(PRESETS["full"])
    t = np.arange(1000) / 250.0
    common = 40.0 * np.sin(2 * np.pi * 10 * t)
    out = _probe().muse_as_recorded(np.tile(common, (len(names), 1)), 250.0, names)
    assert out.shape == (4, 1000)
    np.testing.assert_allclose(out, 0.0, atol=1e-9 * np.abs(common).max())


def test_sites_are_referenced_to_fpz_and_follow_the_nearby_electrodes():
    names = tuple(PRESETS["full"])
    rng = np.random.default_rng(0)
    data = rng.normal(0.0, 1.0, (len(names), 2000))
    left = names.index("T7")
    data[left] += 50.0 * np.sin(2 * np.pi * 7 * np.arange(2000) / 250.0)  # a left-temporal source
    out = _probe().muse_as_recorded(data, 250.0, names)
    tp9, af7, af8, tp10 = (np.std(row) for row in out)
    # TP9 lies next to T7 and picks up its source; TP10, on the other side, hardly does.
    assert tp9 > 10 * tp10
    assert tp9 > max(af7, af8)
