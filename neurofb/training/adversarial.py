"""Adversarial perturbations of EEG windows (FGSM, PGD) and a robustness report.

The budget ``eps`` is relative to the signal: each channel of each window may move by at most
``eps`` × its own standard deviation (an L∞ ball per channel), so one number means the same for a
quiet and a noisy headset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from neurofb.focus.model import FocusNet

ATTACKS = ("fgsm", "pgd")


def _loss(model: FocusNet, x: torch.Tensor, y: torch.Tensor, pos: torch.Tensor,
          mask: torch.Tensor | None) -> torch.Tensor:
    logits, _ = model(x, pos, mask)
    return F.binary_cross_entropy_with_logits(logits.float(), y.float())


def perturb(model: FocusNet, x: torch.Tensor, y: torch.Tensor, pos: torch.Tensor,
            mask: torch.Tensor | None = None, *, attack: str = "fgsm", eps: float = 0.05,
            steps: int = 5, step_size: float | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Return adversarial windows that increase the model's loss.

    Parameters
    ----------
    model : FocusNet
        The model under attack (its mode is left as it is).
    x : tensor, shape (batch, n_chans, n_times)
        Clean windows in µV.
    y : tensor, shape (batch,)
        True labels (0/1).
    pos, mask
        As :meth:`FocusNet.forward`.
    attack : {"fgsm", "pgd"}
        One signed-gradient step of size eps, or ``steps`` projected steps from a random start.
    eps : float
        Budget relative to each channel's standard deviation (0.05 = 5 %).
    steps : int
        PGD iterations.
    step_size : float, optional
        PGD step relative to the std (default ``2.5 * eps / steps``).
    generator : torch.Generator, optional
        For PGD's random start.

    Returns
    -------
    tensor, shape (batch, n_chans, n_times)
        Detached adversarial windows, within the budget of ``x``.
    """
    if attack not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}, got {attack!r}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    x = x.detach()
    bound = eps * x.std(-1, keepdim=True).clamp_min(1e-6)
    if eps == 0:
        return x.clone()
    with torch.enable_grad():
        if attack == "fgsm":
            xa = x.clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(_loss(model, xa, y, pos, mask), xa)
            return (x + bound * grad.sign()).detach()
        alpha = (step_size if step_size is not None else 2.5 * eps / steps)
        alpha = alpha * x.std(-1, keepdim=True).clamp_min(1e-6)
        noise = torch.rand(x.shape, generator=generator, device="cpu").to(x.device) * 2 - 1
        xa = (x + bound * noise).detach()
        for _ in range(steps):
            xa.requires_grad_(True)
            (grad,) = torch.autograd.grad(_loss(model, xa, y, pos, mask), xa)
            xa = xa.detach() + alpha * grad.sign()
            xa = torch.max(torch.min(xa, x + bound), x - bound).detach()
        return xa


def robustness(model: FocusNet, X: np.ndarray, y: np.ndarray, pos: np.ndarray, *,
               eps: Sequence[float] = (0.0, 0.02, 0.05, 0.1), attacks: Sequence[str] = ATTACKS,
               steps: int = 5, batch_size: int = 256, device: str | torch.device = "cpu",
               seed: int = 0) -> list[dict]:
    """Accuracy and AUC of a model under attack, for each attack and budget.

    Parameters
    ----------
    model : FocusNet
    X : array, shape (n_windows, n_chans, n_times)
        Windows in µV at the model's rate.
    y : array, shape (n_windows,)
        Labels.
    pos : array, shape (n_chans, 3)
        Electrode positions in metres.
    eps : sequence of float
        Budgets relative to each channel's std.
    attacks : sequence of str
        ``"fgsm"`` and/or ``"pgd"``.

    Returns
    -------
    list of dict
        ``{"attack", "eps", "auc", "balanced_accuracy", "windows"}`` per attack and budget.
    """
    from neurofb.training.metrics import binary_metrics

    dev = torch.device(device)
    was_training = model.training
    model.eval()
    p = torch.as_tensor(pos, dtype=torch.float32, device=dev)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for attack in attacks:
        for e in eps:
            scores = []
            for i in range(0, len(X), batch_size):
                xb = torch.as_tensor(X[i:i + batch_size], dtype=torch.float32, device=dev)
                yb = torch.as_tensor(y[i:i + batch_size], device=dev)
                xa = perturb(model, xb, yb, p, attack=attack, eps=e, steps=steps,
                             generator=gen)
                with torch.no_grad():
                    scores.append(torch.sigmoid(model(xa, p)[0].float()).cpu().numpy())
            m = binary_metrics(np.asarray(y), np.concatenate(scores))
            rows.append({"attack": attack, "eps": float(e), "auc": m["auc"],
                         "balanced_accuracy": m["balanced_accuracy"], "windows": len(X)})
    model.train(was_training)
    return rows
