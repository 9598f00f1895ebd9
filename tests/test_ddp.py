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
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)


@pytest.mark.slow
def test_two_process_gloo_training_matches_single_process(eegmat_dir, tmp_path):
    from neurofb.focus.io import load_model

    folder = small_eegmat(tmp_path, eegmat_dir)
    common = ["train", "--eegmat", str(folder), "--subjects", "0,1,2", "--epochs", "4",
              "--patience", "10", "--val-subjects", "1", "--d-model", "8", "--heads", "2",
              "--layers", "1", "--cache", str(tmp_path / "cache"), "--json"]
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
    assert set(meta1["training"]) == set(meta2["training"])
    assert meta2["training"]["world_size"] == 2
    hist = meta2["training"]["history"]
    assert len(hist) == 4 and hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert meta1["training"]["val_subjects"] == meta2["training"]["val_subjects"]
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "model.json", "model.onnx", "weights.safetensors"]
