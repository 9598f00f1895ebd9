"""Shared helpers of the focus-model tests: a small eegmat folder, tiny models and recipes,
recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from neurofb.focus.model import FocusLRA
from neurofb.training.train import Recipe
from neurofb.types import Chunk, Marker, SourceInfo


def small_eegmat(tmp_path: Path, eegmat_dir: Path, subjects: tuple[int, ...] = (0, 1, 2)) -> Path:
    """A folder of symlinks to a few eegmat subjects' EDF files."""
    folder = tmp_path / "eegmat-small"
    folder.mkdir(exist_ok=True)
    for s in subjects:
        for run in (1, 2):
            name = f"Subject{s:02d}_{run}.edf"
            if not (folder / name).exists():
                (folder / name).symlink_to(eegmat_dir / name)
    return folder


def random_lra(seed: int = 0, *, members: int = 2, std: float = 0.3) -> FocusLRA:
    """A small FocusLRA with non-trivial random weights (its zero-started read-out too) and a
    standardisation like a trained one's (log10 features around 0-2)."""
    torch.manual_seed(seed)
    m = FocusLRA(n_members=members, d_model=8, n_heads=2, n_layers=1)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, std)
        m.feat_mean.uniform_(0.0, 2.0)
        m.feat_std.uniform_(0.3, 1.0)
    return m.eval()


def tiny_model_dir(tmp_path: Path, name: str = "tiny", *, seed: int = 0) -> Path:
    """A model folder of two random tiny networks (cold and baseline), with its graphs."""
    from neurofb.focus.io import save_model
    from neurofb.training.model_folder import baseline_section

    meta = {"name": name, "input": {"window_s": 2.0, "min_channels": 3},
            "baseline": baseline_section()}
    return save_model({"cold": random_lra(seed), "baseline": random_lra(seed + 100)},
                      tmp_path / name, meta)


def tiny_recipe(**changes: object) -> Recipe:
    """A recipe small enough for CPU tests (a few seconds)."""
    base = dict(d_model=8, n_heads=2, n_layers=1, max_epochs=2, patience=2, n_members=2,
                batch_size=128)
    base.update(changes)
    return Recipe(**base)


def write_calibration_recording(path: Path, eegmat_dir: Path, subject: int, *,
                                rest_s: float = 60.0, task_s: float = 60.0,
                                unfollowed_s: float = 0.0) -> Path:
    """Write a real neurofb recording: ``rest_s`` of an eegmat subject's rest, then ``task_s`` of
    their arithmetic, with rest/task calibration block markers (RecordingWriter, as live).

    ``unfollowed_s`` > 0: the blocks were not followed at their end — the last ``unfollowed_s``
    of the rest block hold the person's arithmetic and the last ``unfollowed_s`` of the task
    block their rest (other samples than the blocks' own).
    """
    import mne

    from neurofb.recording import RecordingWriter

    runs = {}
    names: list[str] = []
    for run in (1, 2):
        raw = mne.io.read_raw_edf(eegmat_dir / f"Subject{subject:02d}_{run}.edf",
                                  preload=False, verbose="error")
        sfreq = float(raw.info["sfreq"])
        picks = [n for n in raw.ch_names if n.startswith("EEG") and "A2-A1" not in n]
        names = [n.replace("EEG ", "") for n in picks]
        runs[run] = raw.get_data(picks=picks) * 1e6

    def take(run: int, start_s: float, stop_s: float) -> np.ndarray:
        return runs[run][:, round(start_s * sfreq):round(stop_s * sfreq)]

    k = unfollowed_s
    parts = [take(1, 0, rest_s - k), take(2, task_s - k, task_s),  # the rest block
             take(2, 0, task_s - k), take(1, rest_s, rest_s + k)]  # the task block
    data = np.concatenate(parts, axis=1)
    info = SourceInfo(ch_names=tuple(names), sfreq=sfreq, board="eegmat")
    ts = np.arange(data.shape[1]) / sfreq
    with RecordingWriter(path, info) as w:
        for i in range(0, data.shape[1], 500):
            w.write_chunk(Chunk(data=data[:, i:i + 500], timestamps=ts[i:i + 500],
                                ch_names=info.ch_names, sfreq=sfreq, first_sample=i))
        w.write_marker(Marker(0.0, "block_start", "rest"))
        w.write_marker(Marker(rest_s, "block_end", "rest"))
        w.write_marker(Marker(rest_s, "block_start", "task"))
        w.write_marker(Marker(rest_s + task_s, "block_end", "task"))
    return path
