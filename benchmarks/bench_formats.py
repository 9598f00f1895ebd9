"""Export and import speed of every file format, and the session library's queries.

A recording of ``--formats-minutes`` of 19-channel 500 Hz real EEG (eegmat subjects back to
back, with a marker every 10 s) is exported to EDF+, BDF+, FIF and BrainFlow CSV (the OB3000
24-channel layout, 500 Hz) and read back with :func:`neurofb.recording.formats.read_file`; a BIDS
export and an import into a neurofb folder are timed too. Without eegmat the EEG is seeded 1/f
noise. The library rows time ``add_session`` (one transaction each), ``list_sessions`` and
``progress`` over ``--formats-sessions`` sessions.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

NAME = "formats"
DESCRIPTION = "export/import seconds and EEG-minutes per second for EDF, BDF, FIF, CSV, BIDS; " \
              "session library add/list/progress"  # fmt: skip

SFREQ = 500.0
N_CH = 19


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``neurofb bench formats``."""
    parser.add_argument("--formats-minutes", type=float, default=10.0,
                        help="formats: minutes of 19-channel 500 Hz EEG (default 10)")
    parser.add_argument("--formats-sessions", type=int, default=1000,
                        help="formats: sessions in the library benchmark (default 1000)")


def _eeg(n: int) -> tuple[np.ndarray, list[str], str]:
    from neurofb.paths import REPO_ROOT
    from neurofb.recording import formats

    folder = REPO_ROOT.parent / "shared" / "data" / "eegmat"
    files = sorted(folder.glob("Subject*_*.edf"))
    if files:
        parts, names, have = [], None, 0
        for path in files:
            rec = formats.read_file(path)
            parts.append(rec.data[:N_CH])
            names = list(rec.info.ch_names[:N_CH])
            have += rec.n_samples
            if have >= n:
                break
        data = np.concatenate(parts, axis=1)
        reps = int(np.ceil(n / data.shape[1]))
        return np.tile(data, reps)[:, :n], names, "eegmat"
    rng = np.random.default_rng(0)
    spec = np.fft.rfft(rng.normal(size=(N_CH, n)), axis=1)
    spec /= np.maximum(np.arange(spec.shape[1]), 1) ** 0.5
    return np.fft.irfft(spec, n=n, axis=1) * 200, [f"EEG{i + 1}" for i in range(N_CH)], "1/f"


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run(args: argparse.Namespace) -> list[dict]:
    """Time every format's export and import, then the library queries."""
    from neurofb.library.index import SessionLibrary, SessionSummary
    from neurofb.recording import Recording, formats
    from neurofb.types import Marker, SourceInfo

    logging.getLogger("neurofb").setLevel(logging.ERROR)
    minutes = float(getattr(args, "formats_minutes", 10.0))
    n = int(minutes * 60 * SFREQ)
    data, names, origin = _eeg(n)
    rec = Recording(
        info=SourceInfo(tuple(names), SFREQ, "eegmat"),
        meta={"user": "bench", "exercise": "gauge"},
        data=np.ascontiguousarray(data), timestamps=1.7e9 + np.arange(n) / SFREQ,
        markers=[Marker(float(t), "note", f"m{i}")
                 for i, t in enumerate(range(0, int(n / SFREQ), 10))],
    )  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="neurofb-bench-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = Path(tmp)
        for fmt in ("edf", "bdf", "fif", "csv", "bids"):
            out = tmp / (fmt if fmt == "bids" else f"rec{formats.SUFFIX[fmt]}")
            board = "ob3000_24_channels" if fmt == "csv" else None
            written, t_export = _timed(lambda: formats.export(rec, fmt, out, board=board))  # noqa: B023
            # readers read on demand: the read time includes every sample (np.asarray)
            samples, t_read = _timed(
                lambda: np.asarray(formats.read_file(written).data))  # noqa: B023
            rows.append({
                "what": fmt, "data": f"{minutes:g} min {N_CH}ch {SFREQ:g}Hz {origin}",
                "export_s": round(t_export, 3), "read_s": round(t_read, 3),
                "MB": round(written.stat().st_size / 1e6, 1),
                "export_min_per_s": round(minutes / t_export, 1),
                "read_min_per_s": round(minutes / t_read, 1),
                "max_err_uV": float(np.abs(samples - rec.data).max()),
            })  # fmt: skip
        edf = tmp / "rec.edf"
        folder, t_import = _timed(lambda: formats.import_file(edf, tmp / "imported"))
        rows.append({"what": "import edf -> folder", "data": f"{minutes:g} min",
                     "export_s": None, "read_s": round(t_import, 3),
                     "MB": round(sum(p.stat().st_size for p in folder.iterdir()) / 1e6, 1),
                     "export_min_per_s": None, "read_min_per_s": round(minutes / t_import, 1),
                     "max_err_uV": None})  # fmt: skip
        n_sessions = int(getattr(args, "formats_sessions", 1000))
        rng = np.random.default_rng(1)
        with SessionLibrary(tmp / "sessions.sqlite3") as lib:
            summaries = [SessionSummary(
                user=f"u{i % 5}", started_at=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00",
                duration_s=600.0, mean_focus=float(rng.uniform()), rewards=int(rng.integers(50)),
                recording_path=str(tmp / f"r{i}"), block_focus={"rest": 0.4, "task": 0.6},
            ) for i in range(n_sessions)]  # fmt: skip
            _, t_add = _timed(lambda: [lib.add_session(s) for s in summaries])
            listed, t_list = _timed(lambda: lib.list_sessions())
            days, t_prog = _timed(lambda: lib.progress("u1"))
        for what, secs, count in (("library add_session", t_add, n_sessions),
                                  ("library list_sessions", t_list, len(listed)),
                                  ("library progress(user)", t_prog, len(days))):  # fmt: skip
            rows.append({"what": what, "data": f"{count} rows", "export_s": None,
                         "read_s": round(secs, 4), "MB": None, "export_min_per_s": None,
                         "read_min_per_s": None, "max_err_uV": None})  # fmt: skip
    return rows
