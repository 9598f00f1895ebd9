"""Calibrated mode: a personal read-out fitted on one person's labelled rest and task blocks.

A :class:`PersonalHead` is a class-balanced logistic regression (fitted by
:mod:`neurofb.training.personalise`) on the standardised ``[population logit, log10 band
powers of every calibration electrode]`` of a window. A personalised model folder holds one
head per operating mode — on the cold graph's logit, and on the baseline graph's logit (the
calibration's first rest as the baseline) — so a session uses the head of the mode it is in.
It is tied to the electrodes it was calibrated on, in their order. Prediction is plain numpy in
float64, one window at a time (the same operations whatever the batch).

The heads are stored in ``personal.safetensors`` (numpy tensors, no pickles), hashed in
model.json's ``personal`` section.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurofb.errors import ModelError
from neurofb.focus.card import META, PERSONAL, model_file, sha256_file
from neurofb.focus.features import N_BANDS

__all__ = ["PersonalHead", "load_heads", "save_heads"]


@dataclass(frozen=True)
class PersonalHead:
    """A fitted personal read-out.

    Parameters
    ----------
    mean, std : array, shape (1 + n_chans * N_BANDS,)
        Standardisation of the head's inputs (from the calibration windows).
    weight : array, same shape
        Logistic-regression weights.
    bias : float
        Its intercept.
    """

    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray
    bias: float

    def __post_init__(self) -> None:
        n = self.weight.shape
        if self.mean.shape != n or self.std.shape != n or len(n) != 1 or (n[0] - 1) % N_BANDS:
            raise ValueError("a personal head's mean, std and weight must be 1-D arrays of "
                             f"1 + {N_BANDS} · n_channels values")
        arrays = (self.mean, self.std, self.weight, np.array([self.bias]))
        if not all(np.isfinite(a).all() for a in arrays) or not (self.std > 0).all():
            raise ValueError("a personal head must hold finite numbers and positive stds")

    @property
    def n_chans(self) -> int:
        """Electrodes it was calibrated on."""
        return (len(self.weight) - 1) // N_BANDS

    @staticmethod
    def inputs(logit: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """Head inputs (n, 1 + n_chans · N_BANDS): the logit, then the log band powers."""
        feats = np.asarray(feats, dtype=np.float64)
        return np.concatenate([np.asarray(logit, np.float64).reshape(-1, 1),
                               feats[..., :N_BANDS].reshape(len(feats), -1)], axis=1)

    def predict_logit(self, logit: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """Personal logit of windows, shape (n,).

        Parameters
        ----------
        logit : array, shape (n,)
            The population graph's logit of each window.
        feats : array, shape (n, n_chans, n_features)
            Their raw features (:mod:`neurofb.focus.features`), calibration electrodes in order.
        """
        feats = np.asarray(feats)
        if feats.ndim != 3 or feats.shape[1] != self.n_chans:
            raise ValueError(f"this head was calibrated on {self.n_chans} electrodes, got "
                             f"features of shape {feats.shape}")
        z = (self.inputs(logit, feats) - self.mean) / self.std
        return np.add.reduce(z * self.weight, axis=1) + self.bias


def save_heads(heads: dict[str, PersonalHead], folder: str | os.PathLike) -> dict[str, Any]:
    """Write ``personal.safetensors``; return its record for model.json's ``personal`` section."""
    from safetensors.numpy import save_file

    out = Path(folder) / PERSONAL
    tensors = {}
    for mode, head in heads.items():
        for key in ("mean", "std", "weight"):
            tensors[f"{mode}.{key}"] = np.ascontiguousarray(getattr(head, key), np.float64)
        tensors[f"{mode}.bias"] = np.array([head.bias], dtype=np.float64)
    tmp = out.with_name(out.name + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, out)
    os.chmod(out, 0o644)
    return {"file": PERSONAL, "sha256": sha256_file(out), "modes": list(heads)}


def load_heads(folder: str | os.PathLike, section: dict[str, Any]) -> dict[str, PersonalHead]:
    """Read a personalised folder's heads, checking the file is the one model.json describes.

    Raises
    ------
    ModelError
        The file is missing, changed after it was written, does not hold valid heads, or
        ``section`` names a file outside the folder.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = model_file(folder, section, "personal.file", PERSONAL)
    if not path.is_file():
        raise ModelError(f"{path} is missing: the personalised model folder is incomplete")
    if sha256_file(path) != section.get("sha256"):
        raise ModelError(f"{path.name} does not match {META} (its SHA-256 differs): the file "
                         "changed after calibration; calibrate again or restore it")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"{path} is not a readable safetensors file ({err})") from None
    heads = {}
    for mode in section.get("modes", []):
        try:
            heads[mode] = PersonalHead(
                mean=tensors[f"{mode}.mean"], std=tensors[f"{mode}.std"],
                weight=tensors[f"{mode}.weight"], bias=float(tensors[f"{mode}.bias"][0]))
        except (KeyError, ValueError, IndexError) as err:
            raise ModelError(f"{path.name}: no valid {mode} head ({err}); calibrate again"
                             ) from None
    if "cold" not in heads:
        raise ModelError(f"{path.name} holds no cold-mode head; calibrate again")
    return heads
