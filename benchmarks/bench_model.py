"""The focus model's CPU inference cost: one window (live) and batches (replay).

Each row times the whole estimator path the engine runs — pick electrodes, resample the batch to
the model's rate, the model under ``torch.inference_mode``, sigmoid and explanation — for a
headset layout and batch size, on seeded random µV windows (the cost does not depend on the
values). ``model_only`` rows time the network alone on windows already at its rate. p50 / p99 are
per call; ``per_window_ms`` divides by the batch size.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

NAME = "model"
DESCRIPTION = "focus model CPU inference: ms per window (p50/p99), batch 1 and batched"

#: (layout, channel names source, stream sampling rate in Hz)
LAYOUTS = (("full", 500.0), ("cyton", 250.0), ("muse", 256.0), ("synthetic", 250.0))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``neurofb bench model``."""
    parser.add_argument("--model", default=None, help="model folder (default: focus-default)")
    parser.add_argument("--repeats", type=int, default=1000, help="calls per batch-1 row")
    parser.add_argument("--batch", type=int, default=256, help="windows per batched call")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


def _time(fn, repeats: int) -> np.ndarray:
    for _ in range(min(50, repeats)):
        fn()
    out = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    return out * 1e3


def run(args: argparse.Namespace) -> list[dict]:
    """Time the estimator for each layout, batch 1 and batched; return table rows."""
    import torch

    from neurofb.dsp import montage
    from neurofb.focus.neural import load_estimator

    torch.set_num_threads(max(1, args.threads))
    est = load_estimator(args.model)
    rng = np.random.default_rng(0)
    rows = []
    for layout, sfreq in LAYOUTS:
        names = montage.preset(layout)
        bound = est.bind(names, sfreq)
        n_times = round(2 * sfreq)
        for batch, repeats in ((1, args.repeats), (args.batch, max(5, args.repeats // 50))):
            windows = rng.normal(0, 10, (batch, len(names), n_times))
            ms = _time(lambda w=windows, b=bound: b.predict(w, None), repeats)
            rows.append({"path": "estimator", "layout": layout, "channels": len(names),
                         "sfreq": sfreq, "batch": batch, "p50_ms": float(np.median(ms)),
                         "p99_ms": float(np.percentile(ms, 99)),
                         "per_window_ms": float(np.median(ms)) / batch})
    pos = torch.as_tensor(montage.positions(montage.preset("full")), dtype=torch.float32)
    for batch, repeats in ((1, args.repeats), (args.batch, max(5, args.repeats // 50))):
        x = torch.as_tensor(rng.normal(0, 10, (batch, 19, est.model.n_times)),
                            dtype=torch.float32)
        with torch.inference_mode():
            ms = _time(lambda x=x: est.model(x, pos), repeats)
        rows.append({"path": "model_only", "layout": "full", "channels": 19,
                     "sfreq": est.sfreq, "batch": batch, "p50_ms": float(np.median(ms)),
                     "p99_ms": float(np.percentile(ms, 99)),
                     "per_window_ms": float(np.median(ms)) / batch})
    n_params = sum(p.numel() for p in est.model.parameters())
    for row in rows:
        row["parameters"] = n_params
        row["threads"] = args.threads
    return rows
