"""Recordings are read from disk on demand (docs/safety.md, "bounded memory"): every reader returns
:class:`TimeSeries` that index like the arrays they stand for, and replaying or importing a long
file takes the memory of a short one (numpy allocations traced in this process; whole-process
peak RSS of real ``neurofb`` runs in ``neurofb bench longfiles``)."""

from __future__ import annotations

import tracemalloc
import warnings
from pathlib import Path

import mne
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safety_helpers import DEMO

from neurofb.errors import EndOfStream
from neurofb.recording import RecordingWriter, export, import_file, open_recording
from neurofb.recording.base import TimeSeries
from neurofb.stream.replay import ReplaySource
from neurofb.types import Chunk, SourceInfo

X = np.arange(5 * 37, dtype=np.float64).reshape(5, 37) * 0.5 - 3


def _lazy(x: np.ndarray) -> TimeSeries:
    return TimeSeries(lambda a, b: x[..., a:b].copy(), x.shape)


index = st.one_of(
    st.integers(-40, 40),
    st.slices(40),
    st.lists(st.integers(-37, 36), max_size=6).map(lambda v: np.array(v, dtype=np.int64)),
    st.lists(st.booleans(), min_size=37, max_size=37).map(np.array),
)


def _same(lazy: TimeSeries, x: np.ndarray, key: object) -> None:
    try:
        want = x[key]
    except IndexError:
        with pytest.raises(IndexError):
            lazy[key]
        return
    got = lazy[key]
    assert got.shape == want.shape and np.array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(lead=st.one_of(st.none(), st.integers(-6, 5), st.slices(5)), t=index)
def test_time_series_indexes_like_the_array(lead, t):
    _same(_lazy(X), X, t if lead is None else (lead, t))
    _same(_lazy(X), X, (Ellipsis, t))
    _same(_lazy(X[0]), X[0], t)


def test_time_series_is_an_array_for_numpy():
    lazy = _lazy(X)
    assert lazy.shape == X.shape and lazy.ndim == 2 and lazy.dtype == np.float64
    assert np.array_equal(np.asarray(lazy), X) and np.array_equal(lazy * 2 - X, X)
    assert np.array_equal(np.abs(lazy - X).max(axis=1), np.zeros(5))
    assert np.array_equal(lazy[..., 3:5], X[..., 3:5]) and len(lazy) == 5
    with pytest.raises(IndexError):
        lazy[0, 37]


@pytest.mark.parametrize("fmt", ["folder", "edf", "bdf", "fif"])
def test_every_reader_reads_on_demand_what_the_eager_read_gives(fmt, tmp_path):
    if fmt == "folder":
        path = DEMO
        want = np.fromfile(DEMO / "eeg.bin", "<f4").reshape(-1, 20)[:, 1:].T
    else:
        path = export(open_recording(DEMO), fmt, tmp_path / f"demo.{fmt}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = mne.io.read_raw(path, preload=True, verbose="error").get_data() * 1e6
    rec = open_recording(path)
    assert isinstance(rec.data, TimeSeries) and isinstance(rec.timestamps, TimeSeries)
    want = want[:, : rec.n_samples]
    assert np.array_equal(np.asarray(rec.data), want)
    rng = np.random.default_rng(0)
    for a in rng.integers(0, rec.n_samples - 100, 10):
        assert np.array_equal(rec.data[:, a : a + 77], want[:, a : a + 77])
    ts = np.asarray(rec.timestamps)
    assert np.all(np.diff(ts) > 0) and rec.timestamps[-1] == ts[-1]


def _long_folder(path: Path, minutes: float, n_ch: int = 19, sfreq: float = 500.0) -> Path:
    """A float32 recording written a minute at a time (never held whole)."""
    info = SourceInfo(tuple(f"EEG{i}" for i in range(n_ch)), sfreq, "test")
    rng = np.random.default_rng(1)
    step = int(60 * sfreq)
    with RecordingWriter(path, info, dtype="float32", flush_interval_s=0.1) as w:
        for start in range(0, int(minutes * 60 * sfreq), step):
            w.write_chunk(Chunk(rng.normal(0, 20, (n_ch, step)),
                                (start + np.arange(step)) / sfreq, info.ch_names, sfreq, start))
            w.flush()
    return path


def _peak_mib(job) -> float:
    tracemalloc.start()
    try:
        job()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _replay_all(path: Path) -> None:
    source = ReplaySource(path, speed=None)
    source.start()
    try:
        while True:
            source.read()
    except EndOfStream:
        pass


@pytest.mark.slow
def test_replay_and_import_memory_does_not_grow_with_the_file(tmp_path):
    folders = [_long_folder(tmp_path / "short", 2), _long_folder(tmp_path / "long", 20)]
    fifs = [export(open_recording(f), "fif", tmp_path / f"{f.name}_raw.fif") for f in folders]
    jobs = {"replay": (_replay_all, folders),
            "import": (lambda p: import_file(p, tmp_path / f"imported-{p.name}"), fifs)}
    for name, (job, (short, long)) in jobs.items():
        small = _peak_mib(lambda j=job, p=short: j(p))
        big = _peak_mib(lambda j=job, p=long: j(p))
        # 10× the samples in the same memory (the whole long file would be 1.4 GB in float64)
        assert big < 1.5 * small + 8, (name, small, big)
