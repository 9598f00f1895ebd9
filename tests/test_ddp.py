"""``neurofb train`` runs unchanged under torchrun: 2 CPU processes (gloo), DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from focus_helpers import small_eegmat


def _train(args: list[str], *, nproc: int | None, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NEUROFB_HOME": str(tmp_path / "home")}
    if nproc:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "neurofb", *args]
    else:
        cmd = [sys.executable, "-m", "neurofb", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=280)


@pytest.mark.slow
def test_two_process_gloo_training_matches_single_process(eegmat_dir, tmp_path):
    from neurofb.focus.io import load_model

    folder = small_eegmat(tmp_path, eegmat_dir, (0, 1, 2, 5))
    common = ["train", "--eegmat", str(folder), "--epochs", "2", "--patience", "5",
              "--members", "2", "--d-model", "8", "--heads", "2", "--cache",
              str(tmp_path / "cache"), "--json"]
    single = _train([*common, "--out", str(tmp_path / "single")], nproc=None, tmp_path=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = _train([*common, "--out", str(tmp_path / "ddp")], nproc=2, tmp_path=tmp_path)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    summary = json.loads(ddp.stdout[ddp.stdout.index("{"):])  # only rank 0 prints
    assert summary["world_size"] == 2 and summary["device"] == "cpu"
    _, meta1 = load_model(tmp_path / "single")
    _, meta2 = load_model(tmp_path / "ddp")
    assert meta1["weights"]["tensors"] == meta2["weights"]["tensors"]
    assert meta1["architecture"] == meta2["architecture"]
    assert meta2["training"]["world_size"] == 2 and meta1["training"]["world_size"] == 1
    vals = [[m["val_subjects"] for m in meta["training"]["modes"]["cold"]["members"]]
            for meta in (meta1, meta2)]
    assert vals[0] == vals[1]  # the same member splits, averaged gradients
    assert meta1["weights"]["sha256"] != meta2["weights"]["sha256"]
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "baseline.onnx", "model.json", "model.onnx", "weights.safetensors"]
