"""Property-based fuzzing (Hypothesis) of everything a user hands neurofb: EDF/BDF/FIF/CSV files
and neurofb folders (bytes flipped, cut, inserted), meta.json and model.json (fields replaced by
any JSON value), and the CLI's flags (any text). Every input gives either a valid result or a
:class:`~neurofb.errors.NeurofbError` (one line at the CLI) — never another exception, never a
hang — and what neurofb writes it reads back (round trips). Bounded ``max_examples`` keep the
whole module within the CI budget."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from safety_helpers import DEMO

from neurofb.cli import main
from neurofb.errors import EndOfStream, ModelError, NeurofbError
from neurofb.focus.card import read_meta as read_model_meta
from neurofb.focus.io import load_model
from neurofb.paths import default_model_dir
from neurofb.recording import RecordingWriter, export, open_recording
from neurofb.recording.base import Recording
from neurofb.stream.replay import ReplaySource
from neurofb.types import Chunk, Marker, SourceInfo

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])  # fmt: skip
SUFFIX = {"edf": ".edf", "bdf": ".bdf", "fif": "_raw.fif", "csv": ".csv"}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, Path]:
    """Small real files of every format: 4 s of the demo (and of a synthetic-board layout)."""
    from neurofb.boards import board_layout

    root = tmp_path_factory.mktemp("seeds")
    demo = open_recording(DEMO)
    n = 1000
    short = Recording(demo.info, demo.meta, np.asarray(demo.data[:, :n]),
                      np.asarray(demo.timestamps[:n]), [Marker(1.0, "block_start", "rest")])
    out = {fmt: export(short, fmt, root / f"seed{SUFFIX[fmt]}") for fmt in ("edf", "bdf", "fif")}
    names = board_layout("synthetic").eeg_names
    synth = Recording(SourceInfo(tuple(names), 250.0, "synthetic"), {},
                      np.asarray(demo.data[: len(names), :n]), np.arange(n) / 250.0)
    out["csv"] = export(synth, "csv", root / "seed.csv")
    folder = root / "folder"
    with RecordingWriter(folder, demo.info) as w:
        w.write_chunk(Chunk(np.asarray(demo.data[:, :n]), np.arange(n) / 250.0,
                            demo.ch_names, 250.0))
        w.write_marker(Marker(0.5, "note", "x"))
    out["folder"] = folder
    return out


# -- damaged files ---------------------------------------------------------------------------

edits = st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert", "zero"]),
                           st.floats(0, 1), st.binary(min_size=1, max_size=16)),
                 min_size=1, max_size=4)  # fmt: skip


def _damage(raw: bytes, steps: list) -> bytes:
    data = bytearray(raw)
    for kind, where, blob in steps:
        i = min(int(where * len(data)), max(len(data) - 1, 0))
        if kind == "flip" and data:
            data[i : i + len(blob)] = blob
        elif kind == "cut":
            del data[i:]
        elif kind == "insert":
            data[i:i] = blob
        elif kind == "zero":
            data[i : i + 64] = bytes(len(data[i : i + 64]))
    return bytes(data)


def _read_fully(path: Path) -> None:
    """Open, read every sample and replay: a valid result or a NeurofbError, nothing else."""
    try:
        rec = open_recording(path)
        data = np.asarray(rec.data)
        assert data.shape == (len(rec.ch_names), rec.n_samples) and rec.n_samples > 0
        assert np.asarray(rec.timestamps).shape == (rec.n_samples,)
        source = ReplaySource(rec, speed=None)
        source.start()
        for _ in range(rec.n_samples + 2):
            source.read()
    except EndOfStream:
        pass
    except NeurofbError as err:
        assert str(err).strip()


@pytest.mark.parametrize("fmt", ["edf", "bdf", "fif", "csv"])
@FUZZ
@given(steps=edits)
def test_damaged_files_read_or_give_a_recording_error(seeds, fmt, steps, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / f"damaged{SUFFIX[fmt]}"
    path.write_bytes(_damage(seeds[fmt].read_bytes(), steps))
    if fmt == "csv":
        shutil.copyfile(seeds["csv"].with_name("seed.neurofb.json"),
                        path.with_name("damaged.neurofb.json"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _read_fully(path)


@FUZZ
@given(steps=edits, target=st.sampled_from(["eeg.bin", "markers.jsonl", "trace.csv"]))
def test_damaged_folders_read_or_give_a_recording_error(seeds, steps, target, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "rec"
    shutil.copytree(seeds["folder"], folder)
    (folder / target).write_bytes(_damage((folder / target).read_bytes(), steps))
    _read_fully(folder)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.text(max_size=12)
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e300, -0.0, 1e-300]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=8,
)  # fmt: skip


@FUZZ
@given(changes=st.dictionaries(
    st.sampled_from(["format", "format_version", "ch_names", "sfreq", "dtype", "byte_order",
                     "unit", "board", "timestamp_offset", "n_samples", "start_unix", "columns",
                     "summary", "complete"]), json_values, min_size=1, max_size=3))
def test_any_meta_json_reads_or_gives_a_recording_error(seeds, changes, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "rec"
    shutil.copytree(seeds["folder"], folder)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, **changes}))
    _read_fully(folder)


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "m"
    shutil.copytree(default_model_dir(), folder)
    return folder


@FUZZ
@given(section=st.sampled_from(["input", "weights", "architecture", None]),
       key=st.sampled_from(["min_channels", "sfreq", "window_s", "channels", "file", "sha256",
                            "n_times", "d_model", "fmax", "personal_electrodes", "format",
                            "format_version"]),
       value=json_values)  # fmt: skip
def test_any_model_json_loads_or_gives_a_model_error(model_copy, section, key, value):
    card_path = model_copy / "model.json"
    good = card_path.read_text()
    card = json.loads(good)
    (card[section] if section else card)[key] = value
    card_path.write_text(json.dumps(card))
    try:
        read_model_meta(model_copy)
        load_model(model_copy)  # the weights (training, calibration)
        from neurofb.focus.neural import load_estimator

        load_estimator(model_copy).bind(DEMO_CHANNELS, 250.0)  # the graph (the engine)
    except ModelError as err:
        assert str(err).strip()
    except NeurofbError:
        pass  # a ChannelError: the model does not fit this montage, said so
    finally:
        card_path.write_text(good)


DEMO_CHANNELS = ("Fp1", "Fp2", "F3", "F4", "F7", "F8", "T7", "T8", "C3", "C4", "P7", "P8", "P3",
                 "P4", "O1", "O2", "Fz", "Cz", "Pz")


# -- round trips --------------------------------------------------------------------------------

@st.composite
def recordings(draw) -> Recording:
    from neurofb.boards import board_layout

    names = board_layout("synthetic").eeg_names
    n_ch = draw(st.integers(1, len(names)))
    n = draw(st.integers(300, 1500))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    data = rng.normal(0, draw(st.sampled_from([1.0, 30.0, 500.0])), (n_ch, n))
    for _ in range(draw(st.integers(0, 3))):  # dropped bursts
        a = draw(st.integers(0, n - 1))
        rows = slice(None) if draw(st.booleans()) else draw(st.integers(0, n_ch - 1))
        data[rows, a : a + draw(st.integers(1, 50))] = draw(st.sampled_from([np.nan, np.inf]))
    markers = [Marker(round(draw(st.floats(0, (n - 1) / 250)), 3),
                      draw(st.sampled_from(["note", "reward", "block_start", "block_end"])),
                      draw(st.text("abc xyz=%é", max_size=8)))
               for _ in range(draw(st.integers(0, 4)))]  # fmt: skip
    info = SourceInfo(tuple(names[:n_ch]), 250.0, "synthetic")
    return Recording(info, {"user": "ann"}, data, 1.7e9 + np.arange(n) / 250.0, markers)


@pytest.mark.parametrize("fmt", ["edf", "bdf", "fif", "csv"])
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rec=recordings())
def test_what_neurofb_writes_it_reads_back(fmt, rec, tmp_path_factory):
    path = export(rec, fmt, tmp_path_factory.mktemp("rt") / f"x{SUFFIX[fmt]}")
    back = open_recording(path)
    got, want = np.asarray(back.data), np.asarray(rec.data)
    assert back.ch_names == rec.ch_names and got.shape == want.shape
    missing = ~np.isfinite(want)
    assert np.array_equal(np.isnan(got), missing)
    finite = want[~missing]
    assume(finite.size > 0)
    span = float(np.ptp(finite)) or 1.0
    tol = {"edf": span / 65534 * 1.01, "bdf": span / 16777214 * 1.01}.get(fmt, 1e-6)
    assert np.max(np.abs(got - want)[~missing]) <= tol + 1e-9
    assert sorted((round(m.t, 2), m.kind) for m in back.markers) == sorted(
        (round(m.t, 2), m.kind) for m in rec.markers)


# -- the CLI's flags ----------------------------------------------------------------------------

flag_text = st.one_of(
    st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e308", "1e-300", "1e999", "", " ",
                     "max", "0x10", "1_000", "½", "2", "0.25", "50", "60"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=6),
)  # fmt: skip


@pytest.fixture(scope="module")
def short(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("short") / "seed_raw.fif"


def _run(capsys, argv: list[str]) -> int:
    try:
        code = main(argv)
    except SystemExit as end:  # argparse
        code = int(end.code or 0)
    _, err = capsys.readouterr()
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and lines[-1].startswith("neurofb ") and ": error: " in lines[-1]
    return code


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flags=st.dictionaries(
    st.sampled_from(["--window", "--hop", "--seek", "--seconds", "--min-quality", "--l-freq",
                     "--h-freq", "--line-freq", "--speed"]), flag_text, max_size=3))
def test_any_replay_flag_value_runs_or_is_one_line(seeds, flags, capsys, tmp_path_factory):
    if "--speed" in flags:  # a paced replay runs in real time: only the refused values here
        try:
            ok = float(flags["--speed"]) >= 0.01
        except ValueError:
            ok = False
        assume(not ok)
    argv = ["replay", str(seeds["fif"]), "--target", "engagement"]
    for flag, value in flags.items():
        argv += [f"{flag}={value}"]
    _run(capsys, argv)


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(since=flag_text, user=st.text(max_size=5), fmt=st.text(max_size=4))
def test_any_sessions_and_export_value_is_handled(seeds, since, user, fmt, capsys,
                                                  tmp_path_factory):
    _run(capsys, ["sessions", "--since", since, "--user", user])
    out = tmp_path_factory.mktemp("out") / "x"
    _run(capsys, ["export", str(seeds["folder"]), "--to", fmt, "--out", str(out)])
