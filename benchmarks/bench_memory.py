"""Memory over a long stream: RSS of the process while the pipeline runs a simulated session.

Synthetic EEG (16 channels at 250 Hz — the synthetic board's shape — 1/f noise with alpha,
generated chunk by chunk, never held whole) is fed to the pipeline in real-time-sized chunks
(10 samples, about what a live read returns) as fast as the machine allows, for a simulated
10 minutes (1 with ``--quick``). The updates are consumed and dropped, as a consumer would.
Rows: resident memory at start (pipeline built, nothing streamed), after a minute of warm-up, at
the end, the growth after warm-up and its rate per simulated hour.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

NAME = "memory"
DESCRIPTION = "RSS while streaming a simulated session through the pipeline (flat = no leak)"

SFREQ = 250.0
N_CHANNELS = 16
CHUNK = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``neurofb bench memory``."""
    parser.add_argument("--memory-minutes", type=float, default=10.0,
                        help="memory: simulated minutes to stream (default 10)")


def rss_mb() -> float:
    """Current resident set size of this process in MiB (``/proc/self/status``)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # peak, as a fallback


class _Generator:
    """Endless 1/f EEG with waxing and waning alpha, made a block at a time (µV)."""

    def __init__(self, seed: int = 0, block: int = 2500) -> None:
        self.rng = np.random.default_rng(seed)
        self.block = block
        self.t = 0

    def next_block(self) -> np.ndarray:
        n = self.block
        spec = self.rng.standard_normal((N_CHANNELS, n // 2 + 1)) * (
            1.0 / np.maximum(np.fft.rfftfreq(n, 1 / SFREQ), 1.0)
        )
        x = np.fft.irfft(spec, n, axis=-1)
        t = (self.t + np.arange(n)) / SFREQ
        self.t += n
        alpha = 8 * (1 + np.sin(2 * np.pi * t / 9)) * np.sin(2 * np.pi * 10 * t)
        return 12 * x / x.std() + alpha


def run(args: argparse.Namespace) -> list[dict]:
    """Stream the simulated session; one row of memory figures."""
    from neurofb.config import EngineConfig
    from neurofb.stream.pipeline import Pipeline
    from neurofb.types import Chunk, SourceInfo

    minutes = 1.0 if getattr(args, "quick", False) else float(
        getattr(args, "memory_minutes", 10.0))
    names = tuple(f"EEG{i + 1}" for i in range(N_CHANNELS))
    pipeline = Pipeline(SourceInfo(names, SFREQ, "synthetic", live=False, simulated=True),
                        config=EngineConfig())
    start_mb = rss_mb()  # libraries loaded, pipeline built, nothing streamed yet
    gen = _Generator()
    total = int(minutes * 60 * SFREQ)
    warm_at = min(int(60 * SFREQ), total // 2)
    warm_mb = None
    n = updates = gated = 0
    t0 = time.perf_counter()
    while n < total:
        block = gen.next_block()
        for i in range(0, block.shape[1], CHUNK):
            data = block[:, i : i + CHUNK]
            ts = (n + np.arange(data.shape[1])) / SFREQ
            for update in pipeline.process(Chunk(data, ts, names, SFREQ, n)):
                updates += 1
                gated += update.focus is None
            n += data.shape[1]
            if warm_mb is None and n >= warm_at:
                warm_mb = rss_mb()
    wall = time.perf_counter() - t0
    end_mb = rss_mb()
    warm_mb = end_mb if warm_mb is None else warm_mb
    simulated_s = n / SFREQ
    growth = end_mb - warm_mb
    return [{
        "channels": N_CHANNELS,
        "sfreq_hz": SFREQ,
        "chunk_samples": CHUNK,
        "simulated_s": simulated_s,
        "wall_s": wall,
        "updates": updates,
        "gated": gated,
        "rss_start_mb": start_mb,
        "rss_warm_mb": warm_mb,
        "rss_end_mb": end_mb,
        "growth_after_warmup_mb": growth,
        "growth_mb_per_hour": growth / max(simulated_s - warm_at / SFREQ, 1e-9) * 3600.0,
    }]
