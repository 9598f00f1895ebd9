"""Traces that do not depend on batching, speed, runs or the CPU's vector unit.

The design (docs/determinism.md): every per-window number is computed by the same operations on
the same shapes whatever the batch — the model one window at a time, the numpy stages row by
row — so batch sizes 1–33 must give *bit-identical* results, not close ones. Across CPUs the
pipeline is float64 throughout, so a replay with the vector units restricted (numpy's dispatch,
OpenBLAS's kernels, torch's capability) must print the very same trace.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurofb import paths
from neurofb.config import EngineConfig
from neurofb.dsp.features import band_powers
from neurofb.dsp.filters import StreamFilter, design_filter
from neurofb.dsp.quality import assess
from neurofb.focus.neural import load_estimator
from neurofb.recording import open_recording
from neurofb.recording.base import Recording
from neurofb.stream.pipeline import Pipeline
from neurofb.types import Chunk, SourceInfo

DEMO = paths.shipped_recordings_dir() / "demo-eegmat"
N_WINDOWS = 33


@pytest.fixture(scope="module")
def demo_windows():
    """33 raw and filtered 2-s windows of real EEG (the demo recording), 0.25 s apart."""
    rec = open_recording(DEMO)
    sfreq = rec.sfreq
    n = round(2 * sfreq)
    hop = round(0.25 * sfreq)
    raw = rec.data[:, : n + hop * (N_WINDOWS - 1)]
    filt = StreamFilter(design_filter(sfreq), raw.shape[0]).process(raw)
    starts = [hop * i for i in range(N_WINDOWS)]
    raw_w = np.stack([raw[:, s : s + n] for s in starts])
    filt_w = np.stack([filt[:, s : s + n] for s in starts])
    return raw_w, filt_w, tuple(rec.ch_names), float(sfreq)


def _in_batches(fn, windows: np.ndarray, size: int) -> list:
    return [fn(windows[a : a + size]) for a in range(0, len(windows), size)]


def test_model_every_batch_size_equals_one_at_a_time(demo_windows):
    _, filt, names, sfreq = demo_windows
    bound = load_estimator().bind(names, sfreq)
    single = [bound.predict(filt[i : i + 1]) for i in range(N_WINDOWS)]
    focus = np.concatenate([s.focus for s in single])
    explanation = np.concatenate([s.explanation for s in single])
    assert len(set(focus.tolist())) > N_WINDOWS // 2  # real, varying estimates
    for size in range(1, N_WINDOWS + 1):
        parts = _in_batches(bound.predict, filt, size)
        assert np.array_equal(np.concatenate([p.focus for p in parts]), focus), size
        assert np.array_equal(np.concatenate([p.explanation for p in parts]), explanation), size


def test_band_powers_and_quality_every_batch_size_equal_one_at_a_time(demo_windows):
    raw, filt, names, sfreq = demo_windows

    def features(w):
        f = band_powers(w, sfreq, ch_names=names)
        return np.concatenate([f.abs_power.reshape(len(w), -1), f.rel_power.reshape(len(w), -1),
                               f.theta_beta[:, None], f.engagement[:, None]], axis=1)

    def quality(idx):
        q = assess(raw[idx], filt[idx], sfreq, ch_names=names)
        return np.concatenate([q.channel_score, q.window_score[:, None]], axis=1), q

    one_f = np.concatenate([features(filt[i : i + 1]) for i in range(N_WINDOWS)])
    one_q = np.concatenate([quality(slice(i, i + 1))[0] for i in range(N_WINDOWS)])
    one_r = [quality(slice(i, i + 1))[1].window_reason[0] for i in range(N_WINDOWS)]
    for size in range(1, N_WINDOWS + 1):
        assert np.array_equal(np.concatenate(_in_batches(features, filt, size)), one_f), size
        got = [quality(slice(a, a + size)) for a in range(0, N_WINDOWS, size)]
        assert np.array_equal(np.concatenate([g[0] for g in got]), one_q), size
        assert [r for g in got for r in g[1].window_reason.tolist()] == one_r


def test_model_in_baseline_mode_every_batch_size_equals_one_at_a_time(demo_windows):
    """Baseline mode keeps state across windows: still the same numbers however batched."""
    _, filt, names, sfreq = demo_windows
    t_end = 2.0 + 0.25 * np.arange(N_WINDOWS)
    est = load_estimator(baseline_s=5.0)
    est.min_windows = 5  # a short baseline, so both modes occur in 33 windows

    def run(size: int) -> tuple[np.ndarray, tuple[str, ...]]:
        bound = est.bind(names, sfreq)
        parts = [bound.predict(filt[a:a + size], t_end=t_end[a:a + size])
                 for a in range(0, N_WINDOWS, size)]
        return np.concatenate([p.focus for p in parts]), sum((p.mode for p in parts), ())

    focus, modes = run(1)
    assert "rest" in modes and "baseline" in modes
    for size in (2, 5, 16, 33):
        got = run(size)
        assert np.array_equal(got[0], focus) and got[1] == modes, size


def _updates(rec, *, live: bool, chunk: int, max_batch: int, seconds: float = 20.0,
             baseline_s: float = 0.0, worker: bool | None = None):
    info = SourceInfo(tuple(rec.ch_names), rec.sfreq, "test", live=live)
    n = round(seconds * rec.sfreq)
    out = []
    est = load_estimator(baseline_s=baseline_s)
    with Pipeline(info, est, EngineConfig(), max_batch_windows=max_batch, worker=worker) as pipe:
        for a in range(0, n, chunk):
            b = min(a + chunk, n)
            out += pipe.process(Chunk(rec.data[:, a:b], rec.timestamps[a:b],
                                      tuple(rec.ch_names), rec.sfreq))
    return [(u.sample_index, u.focus, u.raw_focus, u.quality, u.reason, u.attention,
             u.rel_power, u.channel_quality, u.mode) for u in out]


def test_pipeline_updates_are_identical_however_the_windows_are_batched():
    """Live (a hop at a time), and replay in batches of 1, 5, 16 and 33 windows, with the
    worker thread (filtering ahead, quality alongside) or without: the same updates, bit for
    bit."""
    rec = open_recording(DEMO)
    live = _updates(rec, live=True, chunk=25, max_batch=16)
    assert sum(u[1] is not None for u in live) > 40
    for chunk, max_batch in ((rec.sfreq * 60, 16), (rec.sfreq * 60, 1), (1000, 5), (7777, 33)):
        for worker in (True, False):
            assert _updates(rec, live=False, chunk=int(chunk), max_batch=max_batch,
                            worker=worker) == live, (chunk, max_batch, worker)


def test_updates_with_an_electrode_left_out_are_identical_however_batched():
    """Cz railed from 8 to 14 s: the windows that leave it out and those that do not share
    batches; live and every replay batching give the same updates, bit for bit."""
    rec = open_recording(DEMO)
    n = round(20.0 * rec.sfreq)
    data = np.asarray(rec.data[:, :n]).copy()
    cz = rec.ch_names.index("Cz")
    data[cz, round(8 * rec.sfreq):round(14 * rec.sfreq)] = 187_500.0
    bad = Recording(rec.info, rec.meta, data, np.asarray(rec.timestamps[:n]))
    live = _updates(bad, live=True, chunk=25, max_batch=16)
    left_out = [u[5][cz] == 0.0 for u in live if u[1] is not None]
    assert any(left_out) and not all(left_out)
    for chunk, max_batch in ((rec.sfreq * 60, 16), (7777, 33)):
        for worker in (True, False):
            assert _updates(bad, live=False, chunk=int(chunk), max_batch=max_batch,
                            worker=worker) == live, (chunk, max_batch, worker)


def test_baseline_mode_updates_are_identical_however_the_windows_are_batched():
    rec = open_recording(DEMO)
    live = _updates(rec, live=True, chunk=25, max_batch=16, seconds=30.0, baseline_s=20.0)
    modes = [u[-1] for u in live]
    assert "rest" in modes and "baseline" in modes and modes.index("baseline") > 60
    for chunk, max_batch in ((rec.sfreq * 60, 16), (7777, 33)):
        for worker in (True, False):
            assert _updates(rec, live=False, chunk=int(chunk), max_batch=max_batch,
                            seconds=30.0, baseline_s=20.0, worker=worker) == live


#: Environment that keeps each library off the vector units this CPU has beyond the baseline.
NO_SIMD = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR AVX2 FMA3 AVX512F "
                                "AVX512_SKX",
    "OPENBLAS_CORETYPE": "Prescott",
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
}
AVX2_ONLY = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR AVX512F AVX512_SKX",
    "OPENBLAS_CORETYPE": "Haswell",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}


def _replay_in_subprocess(tmp_path: Path, name: str, extra_env: dict[str, str], *,
                          prefix: tuple[str, ...] | list[str] = ()) -> list[list]:
    trace = tmp_path / f"{name}.csv"
    env = {**os.environ, **extra_env}
    code = ("from neurofb.cli import main\n"
            f"raise SystemExit(main(['replay', {str(DEMO)!r}, '--speed', 'max', '--seconds', "
            f"'60', '--trace', {str(trace)!r}]))\n")
    done = subprocess.run([*prefix, sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr  # e.g. numpy refusing an unknown feature name
    with open(trace, newline="") as fh:
        rows = list(csv.reader(fh))
    return [r[:-1] for r in rows]  # latency_ms varies


@pytest.mark.slow
def test_replay_trace_is_the_same_with_the_vector_units_restricted(tmp_path):
    default = _replay_in_subprocess(tmp_path, "default", {})
    assert sum(bool(r[1]) for r in default[1:]) > 100  # focus values, not only gated rows
    for name, env in (("no-simd", NO_SIMD), ("avx2", AVX2_ONLY)):
        assert _replay_in_subprocess(tmp_path, name, env) == default, name


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-x86_64") is None,
                    reason="qemu-user (apt install qemu-user) emulates CPUs without AVX-512/AVX")
@pytest.mark.parametrize("cpu", ["Haswell", "Nehalem"])
def test_replay_trace_is_the_same_on_an_emulated_cpu(tmp_path, cpu):
    """Under qemu, ``cpuid`` shows an AVX2 (Haswell) or SSE-only (Nehalem) CPU, so ONNX Runtime,
    numpy and OpenBLAS all pick their kernels for it: the trace file must not change."""
    default = _replay_in_subprocess(tmp_path, "native", {})
    emulated = _replay_in_subprocess(tmp_path, cpu, {}, prefix=["qemu-x86_64", "-cpu", cpu])
    assert emulated == default
