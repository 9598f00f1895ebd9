"""Personalisation: adapt a trained focus model to one person from a short calibration.

Two small steps, seconds on a CPU:

1. **Re-normalise**: the token-feature standardisation (``feat_mean``) is re-estimated from the
   person's calibration windows (the mean of the rest and task class means, as in training), so
   their spectra are centred the way the training population's were.
2. **Fine-tune, anchored**: 100 full-batch Adam steps on the calibration windows (class-balanced
   loss) with an L2 pull back toward the trained weights (L2-SP), so 50 windows adapt the model
   without forgetting it. (Tuning only the read-out, ``scope=HEAD_PREFIXES``, adapted less in our
   inner-validation check: see the model card.)
3. **Personal head** (:class:`~neurofb.focus.model.PersonalHead`): a class-balanced logistic
   regression (scikit-learn, ``C=1``, standardised features) fitted on the calibration windows
   stacks the fine-tuned network's logit with the person's log band powers per electrode. The
   personalised model is then tied to the calibration's electrodes.

:func:`personalise` does this from a recording with labelled rest/task blocks, holds back the
last 30 % of each class's windows to report AUC before and after, and writes a new model folder
whose model.json records the parent model's hash and the calibration data's hash.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from neurofb.errors import ModelError
from neurofb.focus.model import FocusNet
from neurofb.training.metrics import binary_metrics
from neurofb.training.train import Cancelled, log_spectra, predict
from neurofb.training.windows import WindowSet

#: Parameters that calibration fine-tunes (the read-out); everything else stays frozen.
HEAD_PREFIXES = ("pool_norm.", "pool_key.", "query", "head.")


@dataclass
class CalibrationResult:
    """A personalised model and, when windows were held back, its metrics before and after."""

    model: FocusNet
    seconds: float
    n_windows: int
    before: dict | None = None
    after: dict | None = None


def class_balanced_mean(feats: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean of the per-class means of token features (n_windows, n_chans, n_feat) → (n_feat,)."""
    means = [feats[y == c].mean((0, 1)) for c in (0, 1) if bool((y == c).any())]
    return torch.stack(means).mean(0)


def personalise_windows(model: FocusNet, cal: WindowSet, *, epochs: int = 100, lr: float = 1e-3,
                        anchor: float = 0.1, renormalise: bool = True, finetune: bool = True,
                        stack: bool = True, stack_c: float = 1.0,
                        scope: tuple[str, ...] | None = None,
                        device: str | torch.device = "cpu", seed: int = 0,
                        progress: Callable[[int, int], None] | None = None,
                        cancel: Callable[[], bool] | None = None) -> CalibrationResult:
    """Personalise a model on one person's labelled calibration windows.

    Parameters
    ----------
    model : FocusNet
        The model to adapt (left unchanged: a copy is adapted).
    cal : WindowSet
        Calibration windows at the model's rate (rest and task).
    epochs : int
        Full-batch fine-tuning steps.
    lr : float
        Its learning rate.
    anchor : float
        Weight of the L2 pull toward the original read-out weights.
    renormalise, finetune, stack : bool
        Which of the three steps to run (``stack`` needs both classes).
    stack_c : float
        Inverse L2 strength of the personal head's logistic regression.
    scope : tuple of str or None
        Name prefixes of the parameters fine-tuned, e.g. :data:`HEAD_PREFIXES` for the
        read-out only; None (default) = all, anchored to their trained values.
    device : str or torch.device
        Where to compute.
    seed : int
        Seeds the fine-tuning.
    progress : callable(step, total), optional
        Called after each step.
    cancel : callable() -> bool, optional
        Polled between steps; True raises :class:`~neurofb.training.train.Cancelled`.

    Returns
    -------
    CalibrationResult
    """
    if len(cal) == 0:
        raise ValueError("no calibration windows")
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    t0 = time.perf_counter()
    dev = torch.device(device)
    torch.manual_seed(seed)
    new = copy.deepcopy(model.population()).to(dev).eval()
    if cal.ch_names and cal.sfreq != new.sfreq:
        raise ModelError(f"calibration windows are at {cal.sfreq:g} Hz, the model works at "
                         f"{new.sfreq:g} Hz")
    lp = log_spectra(new, cal.X, dev)
    mask = torch.as_tensor(cal.full_mask(), device=dev)
    y = torch.as_tensor(cal.y, dtype=torch.float32, device=dev)
    pos = torch.as_tensor(cal.positions(), dtype=torch.float32, device=dev)
    both = len(np.unique(cal.y)) == 2
    if renormalise:
        with torch.no_grad():
            feats = new.features(lp, mask)
            new.feat_mean.copy_(class_balanced_mean(feats, y) if both else feats.mean((0, 1)))
    if finetune and both and epochs:
        params = {n: p for n, p in new.named_parameters()
                  if scope is None or n.startswith(scope)}
        for n, p in new.named_parameters():
            p.requires_grad_(n in params)
        start = {n: p.detach().clone() for n, p in params.items()}
        opt = torch.optim.Adam(params.values(), lr=lr)
        n_pos = float(cal.y.sum())
        pos_weight = torch.tensor((len(cal) - n_pos) / max(n_pos, 1.0), device=dev)
        new.train()
        for step in range(epochs):
            if cancel is not None and cancel():
                raise Cancelled("calibration cancelled")
            logits, _ = new.forward_spectrum(lp, pos, mask)
            loss = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
            loss = loss + anchor * sum(((p - start[n]) ** 2).sum() for n, p in params.items())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if progress is not None:
                progress(step + 1, epochs)
        for p in new.parameters():
            p.requires_grad_(True)
    if stack and both:
        new = fit_personal_head(new, lp, pos, mask, cal.y, c=stack_c)
    return CalibrationResult(model=new.cpu().eval(), seconds=time.perf_counter() - t0,
                             n_windows=len(cal))


def fit_personal_head(model: FocusNet, logpsd: torch.Tensor, pos: torch.Tensor,
                      mask: torch.Tensor, y: np.ndarray, *, c: float = 1.0) -> FocusNet:
    """Fit a :class:`~neurofb.focus.model.PersonalHead` on calibration windows.

    Parameters
    ----------
    model : FocusNet
        The (fine-tuned) population model.
    logpsd, pos, mask : tensor
        The calibration windows' log spectra (:meth:`FocusNet.log_spectrum`), electrode
        positions and channel mask (all present).
    y : array of int, shape (n_windows,)
        Their labels (both classes).
    c : float
        Inverse L2 strength of the class-balanced logistic regression.

    Returns
    -------
    FocusNet
        A copy of ``model`` with the fitted personal head.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if not bool(mask.all()):
        raise ValueError("the personal head needs every calibration electrode in every window")
    out = model.with_personal_head(logpsd.shape[1]).to(logpsd.device).eval()
    with torch.no_grad():
        logits, _ = model.eval().forward_spectrum(logpsd, pos, mask)
        z = out.personal.features(logits, logpsd).double().cpu().numpy()
    scaler = StandardScaler().fit(z)
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    lr.fit(scaler.transform(z), np.asarray(y))
    head = out.personal
    with torch.no_grad():
        head.mean.copy_(torch.as_tensor(scaler.mean_))
        head.std.copy_(torch.as_tensor(scaler.scale_))
        head.weight.copy_(torch.as_tensor(lr.coef_[0]))
        head.bias.copy_(torch.as_tensor(lr.intercept_[0]))
    return out


def hold_back(ws: WindowSet, fraction: float = 0.3) -> tuple[WindowSet, WindowSet]:
    """Split windows into (calibration, held back): the last ``fraction`` of each class in time.

    Windows straddling the cut are dropped so the two parts share no samples.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    win_s = ws.X.shape[2] / ws.sfreq
    cal = np.zeros(len(ws), bool)
    held = np.zeros(len(ws), bool)
    for key in {(int(s), int(c)) for s, c in zip(ws.subject, ws.y, strict=True)}:
        sel = (ws.subject == key[0]) & (ws.y == key[1])
        order = np.sort(ws.t[sel])
        cut = order[int(np.floor((1 - fraction) * len(order)))] if len(order) > 1 else np.inf
        cal |= sel & (ws.t + win_s <= cut + 1e-9)
        held |= sel & (ws.t >= cut - 1e-9)
    return ws.take(cal), ws.take(held)


def personalise(model_dir: str | os.PathLike, recording_or_windows: object,
                out_dir: str | os.PathLike, *, hold_back_fraction: float = 0.3,
                progress: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None, overwrite: bool = False) -> dict:
    """Adapt a model folder to one person and write the personalised model folder.

    Parameters
    ----------
    model_dir : path-like
        The model to start from.
    recording_or_windows : path-like, Recording or WindowSet
        A calibration recording (with labelled rest/task blocks) or its windows.
    out_dir : path-like
        New model folder (must not hold a model yet).
    hold_back_fraction : float
        Share of each class's windows (the latest) kept out of calibration for the report.
    progress, cancel
        As :func:`personalise_windows` (for the app).
    overwrite : bool
        Replace a model already in ``out_dir``.

    Returns
    -------
    dict
        ``before`` and ``after`` metrics on the held-back windows, ``seconds``, ``windows``,
        ``out_dir``.
    """
    from neurofb.focus.io import load_model, save_model
    from neurofb.training.recordings import recording_windows

    model, meta = load_model(model_dir)
    data = recording_or_windows
    if isinstance(data, (str, os.PathLike)):
        from neurofb.recording.formats import open_recording

        data = open_recording(data)
    inp = meta["input"]
    if not isinstance(data, WindowSet):
        data = recording_windows(data, sfreq=float(inp["sfreq"]),
                                 window_s=float(inp["window_s"]))
    if len(np.unique(data.y)) < 2:
        raise ModelError("calibration needs both rest and task blocks in the recording")
    cal, held = hold_back(data, hold_back_fraction)
    if len(np.unique(cal.y)) < 2 or len(np.unique(held.y)) < 2:
        raise ModelError("the calibration blocks are too short to hold some back for the "
                         "before/after report: record at least 30 s of rest and 30 s of task")
    result = personalise_windows(model, cal, progress=progress, cancel=cancel)
    before = binary_metrics(held.y, predict(model, held)[0])
    after = binary_metrics(held.y, predict(result.model, held)[0])
    new_meta = {k: v for k, v in meta.items()
                if k not in ("weights", "created", "versions", "architecture", "format",
                             "format_version")}
    new_meta["name"] = f"{meta.get('name', 'model')}-personal"
    new_meta["parent"] = {"name": meta.get("name"), "sha256": meta["weights"]["sha256"],
                          "path": str(Path(model_dir))}
    new_meta["input"] = {**meta["input"], "personal_electrodes": list(cal.ch_names)}
    new_meta["calibration"] = {
        "method": "re-normalised token features, anchored fine-tuning, personal head "
                  "(logistic regression on the network's logit + log band powers per electrode)",
        "data": data.files, "windows_used": len(cal), "windows_held_back": len(held),
        "before": before, "after": after, "seconds": round(result.seconds, 2)}
    save_model(result.model, out_dir, new_meta, overwrite=overwrite)
    return {"before": before, "after": after, "seconds": result.seconds,
            "windows": len(cal), "held_back": len(held), "out_dir": str(out_dir)}
