"""Record the shipped model's measured cost in its model.json (run by scripts/train_default.sh).

    .venv/bin/python -m neurofb bench model --json > .data/bench-model.json
    .venv/bin/python scripts/card_figures.py models/focus-default .data/bench-model.json

Adds ``metrics.inference`` (the estimator's ms per window per layout, one core, given the
pipeline's spectrum; the spectrum itself for reference) and ``metrics.int8`` (the float64,
float32 and int8 graphs' size, ms per window and AUC on the eegmat windows, and whether int8 is
within the 0.002 AUC the project allows) to model.json. Nothing hashed changes: the weights and
graphs are untouched, model.json is rewritten atomically.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(model_dir: str, bench_json: str) -> None:
    from neurofb.focus.card import read_meta
    from neurofb.focus.io import write_meta

    rows = json.loads(Path(bench_json).read_text(encoding="utf-8"))["model"]
    meta = read_meta(model_dir)
    inference = [{k: r[k] for k in ("path", "layout", "channels", "sfreq", "batch", "p50_ms",
                                    "p99_ms", "per_window_ms") if k in r}
                 for r in rows if not r["path"].startswith("graph")]
    graphs = [{k: r.get(k) for k in ("path", "bytes", "p50_ms", "p99_ms", "auc", "delta_auc",
                                     "note")} for r in rows if r["path"].startswith("graph")]
    int8 = next((g for g in graphs if "int8" in g["path"]), None)
    meta.setdefault("metrics", {})
    meta["metrics"]["inference"] = {
        "command": "neurofb bench model", "cpu": "one core (one intra-op thread)",
        "rows": inference}
    meta["metrics"]["int8"] = {
        "command": "neurofb bench model (neurofb export-model DIR --int8)", "graphs": graphs,
        "ships": bool(int8 and int8["delta_auc"] is not None and abs(int8["delta_auc"]) <= 0.002),
        "rule": "an int8 graph ships only if |ΔAUC| <= 0.002 against the float64 graph; the "
                "engine runs the float64 graphs in any case (their results do not depend on "
                "the CPU)"}
    write_meta(model_dir, meta)
    print(json.dumps({"inference": inference, "int8": graphs}, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:3])
