"""The focus model's CPU inference cost, and what int8 quantisation changes.

``estimator`` rows time the path the engine runs per window for a headset layout, given the
Welch spectrum the pipeline computes anyway (:attr:`neurofb.types.Features.psd`): the model's
features, the float64 ONNX graph specialised to the electrodes (ONNX Runtime, one window at a
time, one intra-op thread), sigmoid and explanation — for one window (a live update) and a batch
(replay), on seeded random µV windows (the cost does not depend on the values). ``spectrum``
rows time the pipeline's Welch spectrum of the same window, for reference.

``graph`` rows compare the shipped cold-mode network as three ONNX graphs on real eegmat windows
(all 19 electrodes, one window per call): the engine's float64 ``model.onnx``, a float32 export,
and the int8 graph of ``neurofb export-model --int8`` (ONNX Runtime dynamic quantisation): file
size, p50/p99 ms per window, and the AUC (rest vs task) over the eegmat windows of
``--model-subjects`` — with the AUC change against float64 (an int8 graph ships only if
|ΔAUC| ≤ 0.002). Without eegmat the AUC columns are empty.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

NAME = "model"
DESCRIPTION = ("focus model inference: estimator ms per window (batch 1 and batched); float64 "
               "vs float32 vs int8 graphs: size, ms, AUC change")

#: (layout, stream sampling rate in Hz)
LAYOUTS = (("full", 500.0), ("cyton", 250.0), ("muse", 256.0), ("synthetic", 250.0))
EEGMAT = Path(os.environ.get("NEUROFB_EEGMAT", Path(__file__).resolve().parents[2]
                             / "shared" / "data" / "eegmat"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``neurofb bench model``."""
    parser.add_argument("--model", default=None, help="model folder (default: focus-default)")
    parser.add_argument("--repeats", type=int, default=1000,
                        help="model: calls per batch-1 row (default 1000)")
    parser.add_argument("--batch", type=int, default=256,
                        help="model: windows per batched call (default 256)")
    parser.add_argument("--model-subjects", default="all",
                        help="eegmat subjects for the graphs' AUC (default all in the folder)")


def _time(fn, repeats: int):
    import numpy as np

    for _ in range(min(50, repeats)):
        fn()
    out = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    return out * 1e3


def _graphs(model_dir: Path) -> dict:
    """The cold network as float64 (the engine's), float32 and int8 graphs: label → bytes."""
    import copy

    import numpy as np
    import torch

    from neurofb.focus.export import OPSET, _to_onnx_bytes, contract_for, export_int8
    from neurofb.focus.io import load_model

    with tempfile.TemporaryDirectory(prefix="neurofb-bench-model-") as tmp:
        int8_path = Path(tmp) / "model.int8.onnx"
        export_int8(model_dir, int8_path)
        models, _ = load_model(model_dir)
        net32 = copy.deepcopy(models["cold"]).float().eval()
        contract = contract_for(net32)
        f32 = _to_onnx_bytes(net32, contract, contract.example(torch.float32, 19, 0), OPSET)
        return {
            "float64 (engine)": ((model_dir / "model.onnx").read_bytes(), np.float64),
            "float32": (f32, np.float32),
            "int8 (dynamic)": (int8_path.read_bytes(), np.float32),
        }


def _graph_rows(model_dir: Path, repeats: int, subjects: str, quick: bool) -> list[dict]:
    import numpy as np

    from neurofb.dsp import montage
    from neurofb.focus.runtime import session_from_bytes, sigmoid

    feats = labels = None
    source = "seeded features (no eegmat)"
    if (EEGMAT / "Subject00_1.edf").exists():
        from neurofb.training.eegmat import load_eegmat

        chosen = "0,1" if quick else (None if subjects == "all" else subjects)
        fs = load_eegmat(EEGMAT, chosen)
        feats, labels = fs.X, fs.y
        source = f"eegmat, {len(fs.subjects)} people, {len(fs)} windows"
    pos = montage.positions(montage.preset("full"))
    probe = np.random.default_rng(0).normal(1.0, 0.5, (1, 19, 50))
    rows, base_auc = [], None
    for label, (data, dtype) in _graphs(model_dir).items():
        session = session_from_bytes(data)
        feeds = {"feats": probe.astype(dtype), "pos": pos.astype(dtype)}
        ms = _time(lambda s=session, f=feeds: s.run(None, f), repeats)
        auc = None
        if feats is not None:
            from sklearn.metrics import roc_auc_score

            p = pos.astype(dtype)
            logits = np.array([session.run(None, {"feats": feats[i : i + 1].astype(dtype),
                                                  "pos": p})[0][0]
                               for i in range(len(feats))])
            auc = float(roc_auc_score(labels, sigmoid(logits)))
            base_auc = auc if base_auc is None else base_auc
        rows.append({"path": f"graph {label}", "layout": "full", "channels": 19,
                     "batch": 1, "p50_ms": float(np.median(ms)),
                     "p99_ms": float(np.percentile(ms, 99)), "bytes": len(data),
                     "auc": auc, "delta_auc": None if auc is None else auc - base_auc,
                     "note": source})
    return rows


def run(args: argparse.Namespace) -> list[dict]:
    """Time the estimator for each layout and the three graphs; return table rows."""
    import numpy as np

    from neurofb import paths
    from neurofb.dsp import montage
    from neurofb.dsp.features import band_powers
    from neurofb.focus.neural import load_estimator

    quick = bool(getattr(args, "quick", False))
    repeats = 60 if quick else int(getattr(args, "repeats", 1000))
    batch = 16 if quick else int(getattr(args, "batch", 256))
    model_dir = Path(getattr(args, "model", None) or paths.default_model_dir())
    est = load_estimator(model_dir)
    rng = np.random.default_rng(0)
    rows = []
    for layout, sfreq in LAYOUTS:
        names = montage.preset(layout)
        bound = est.bind(names, sfreq)
        n_times = round(2 * sfreq)
        for size, reps in ((1, repeats), (batch, max(5, repeats // 50))):
            windows = rng.normal(0, 10, (size, len(names), n_times))
            feats = band_powers(windows, sfreq)
            ms = _time(lambda w=windows, f=feats, b=bound: b.predict(w, f), reps)
            rows.append({"path": "estimator", "layout": layout, "channels": len(names),
                         "sfreq": sfreq, "batch": size, "p50_ms": float(np.median(ms)),
                         "p99_ms": float(np.percentile(ms, 99)),
                         "per_window_ms": float(np.median(ms)) / size})
            if size == 1:
                ms = _time(lambda w=windows, r=sfreq: band_powers(w, r), reps)
                rows.append({"path": "spectrum (pipeline, for reference)", "layout": layout,
                             "channels": len(names), "sfreq": sfreq, "batch": 1,
                             "p50_ms": float(np.median(ms)),
                             "p99_ms": float(np.percentile(ms, 99)),
                             "per_window_ms": float(np.median(ms))})
    rows += _graph_rows(model_dir, repeats, str(getattr(args, "model_subjects", "all")), quick)
    return rows
