"""Memory of replaying and importing long files: whole-process peak RSS of real ``neurofb`` runs.

For each length (10 minutes, 2 hours and 8 hours by default; 1 and 5 minutes with ``--quick``)
a 19-channel 500 Hz EDF is written into a temporary folder (a data record at a time, never held
whole), then ``neurofb replay FILE --hop 1`` (the attention model, as fast as possible) and
``neurofb import FILE --out DIR --no-index`` run as child processes. Each child's peak resident
set size comes from the kernel (``os.wait4``'s ``ru_maxrss``, what ``/usr/bin/time -v`` prints as
"Maximum resident set size"), taken by a small launcher process: Linux carries the peak across
fork and exec, so measured straight from this process (large after other benchmarks) it would
include this process's own size. Readers stream from disk, so the peak must not grow with the
file: ``ratio`` is each run's peak over the shortest file's (the goal: at most 1.5).

Rows: command, hours of EEG, file size, peak RSS, ratio to the shortest, wall time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from neurofb.errors import NeurofbError

NAME = "longfiles"
DESCRIPTION = ("peak RSS of `neurofb replay` and `neurofb import` of 10 min / 2 h / 8 h EDF files "
               "(bounded: ratio to the shortest <= 1.5)")

SFREQ = 500
CHANNELS = ("Fp1", "Fp2", "F3", "F4", "F7", "F8", "T7", "T8", "C3", "C4", "P7", "P8", "P3", "P4",
            "O1", "O2", "Fz", "Cz", "Pz")
PHYS_UV = 3200.0  # physical range ±3.2 mV in µV; 16-bit steps of about 0.1 µV


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``neurofb bench longfiles``."""
    parser.add_argument("--longfiles-hours", default="0.1667,2,8", metavar="H,H,...",
                        help="longfiles: file lengths in hours (default 10 min, 2 h, 8 h)")
    parser.add_argument("--longfiles-dir", default=None, metavar="DIR",
                        help="longfiles: a folder to write the files in (in a new temporary "
                             "folder inside it, removed after; default: the system's temporary "
                             "folder; 8 h needs about 3 GB)")


def _field(text: str, width: int) -> bytes:
    return text.encode("ascii")[:width].ljust(width)


def write_edf(path: Path, seconds: int, *, seed: int = 0) -> None:
    """Write a plain EDF of 1/f-like EEG with alpha, one 1-s data record at a time."""
    ns = len(CHANNELS)
    header = b"".join([
        _field("0", 8), _field("X X X X", 80), _field("Startdate X X X X", 80),
        _field("01.01.24", 8), _field("10.00.00", 8), _field(str(256 * (ns + 1)), 8),
        _field("", 44), _field(str(seconds), 8), _field("1", 8), _field(str(ns), 4),
    ])  # fmt: skip
    fields = [
        [_field(f"EEG {c}", 16) for c in CHANNELS], [_field("AgAgCl", 80)] * ns,
        [_field("uV", 8)] * ns, [_field(f"{-PHYS_UV:g}", 8)] * ns,
        [_field(f"{PHYS_UV:g}", 8)] * ns, [_field("-32768", 8)] * ns, [_field("32767", 8)] * ns,
        [_field("", 80)] * ns, [_field(str(SFREQ), 8)] * ns, [_field("", 32)] * ns,
    ]  # fmt: skip
    header += b"".join(b"".join(f) for f in fields)
    rng = np.random.default_rng(seed)
    scale = 32767 / PHYS_UV
    block_s = 60
    with open(path, "wb") as fh:
        fh.write(header)
        for start in range(0, seconds, block_s):
            n_s = min(block_s, seconds - start)
            t = start + np.arange(n_s * SFREQ) / SFREQ
            noise = np.cumsum(rng.standard_normal((ns, t.size)), axis=1)
            noise -= noise.mean(axis=1, keepdims=True)
            x = 0.5 * noise + 15 * np.sin(2 * np.pi * 10 * t) + 5 * rng.standard_normal(t.size)
            digital = np.clip(np.rint(x * scale), -32768, 32767).astype("<i2")
            # EDF data record: each signal's samples of that second, signal after signal
            records = digital.reshape(ns, n_s, SFREQ).transpose(1, 0, 2)
            fh.write(np.ascontiguousarray(records).tobytes())


#: Runs the measured command and prints its peak RSS (KiB) and exit code. Linux carries a
#: process's peak RSS across fork and exec, so a child of this (large) benchmark process would
#: report at least this process's size; the child of a small launcher starts from the launcher's.
_LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def peak_rss(argv: list[str], env: dict[str, str] | None = None
             ) -> tuple[float, float, int, str]:
    """Run ``argv``; return its peak RSS (MiB), wall time (s), exit code and stderr tail."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *argv], capture_output=True,
                          env=env, check=False)
    wall = time.perf_counter() - t0
    err = done.stderr.decode(errors="replace")[-300:]
    try:
        kib, code = (int(x) for x in done.stdout.split())
    except ValueError:
        return float("nan"), wall, done.returncode or 1, err
    return kib / 1024.0, wall, code, err


def run(args: argparse.Namespace) -> list[dict]:
    """Write the files, run replay and import on each; one row per command and length."""
    if getattr(args, "quick", False):
        hours = [1 / 60, 5 / 60]
    else:
        hours = [float(h) for h in str(getattr(args, "longfiles_hours", "0.1667,2,8")).split(",")]
    given = getattr(args, "longfiles_dir", None)
    if given and not Path(given).is_dir():
        raise NeurofbError(f"--longfiles-dir {given} is not a folder that exists")
    # a new folder of its own (inside --longfiles-dir when given): nothing there is overwritten
    tmp = Path(tempfile.mkdtemp(prefix="neurofb-longfiles-", dir=given))
    env = {**os.environ, "NEUROFB_HOME": str(tmp / "home")}
    rows: list[dict] = []
    base: dict[str, float] = {}
    try:
        for h in sorted(hours):
            seconds = max(60, round(h * 3600))
            edf = tmp / f"eeg-{seconds}s.edf"
            write_edf(edf, seconds)
            size_mb = edf.stat().st_size / 2**20
            commands = {
                "replay": ["replay", str(edf), "--hop", "1"],
                "import": ["import", str(edf), "--out", str(tmp / f"imported-{seconds}s"),
                           "--no-index"],
            }
            for name, cmd in commands.items():
                peak, wall, code, err = peak_rss([sys.executable, "-m", "neurofb", *cmd], env)
                base.setdefault(name, peak)
                row = {"command": f"neurofb {name}", "hours": round(seconds / 3600, 3),
                       "file_mb": round(size_mb, 1), "peak_rss_mb": round(peak, 1),
                       "ratio": round(peak / base[name], 3), "wall_s": round(wall, 1)}
                if code != 0:
                    row["error"] = err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
                rows.append(row)
            shutil.rmtree(tmp / f"imported-{seconds}s", ignore_errors=True)
            edf.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows
