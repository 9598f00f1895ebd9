"""Train the focus model: one loop for CPU, CUDA (mixed precision) and ``torchrun`` (DDP).

Early stopping watches the validation AUC on held-out *subjects* (averaged over the full, Cyton
and Muse-like channel sets). Windows are turned into Welch spectra once; augmentation then works
in the log-power domain — amplitude scaling (a shift), white noise (a floor), random channel
subsets (the key-padding mask: Cyton- and Muse-like layouts and random subsets of ≥ 3
electrodes), jittered electrode positions. With ``adversarial`` the loop works on raw windows
instead and adds FGSM/PGD examples (:mod:`neurofb.training.adversarial`).

Checkpoints are safetensors + JSON (:mod:`neurofb.training.checkpoint`), never pickles.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from neurofb.dsp import montage
from neurofb.focus.model import FocusNet
from neurofb.training import ddp
from neurofb.training.adversarial import ATTACKS, perturb
from neurofb.training.checkpoint import load_checkpoint, save_checkpoint
from neurofb.training.metrics import binary_metrics
from neurofb.training.windows import WindowSet

logger = logging.getLogger(__name__)


def select_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Cancelled(Exception):
    """Training was cancelled by the caller."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (recorded in model.json).

    Parameters
    ----------
    d_model, n_heads, n_layers, dropout : model size (see :class:`FocusNet`).
    lr, weight_decay : AdamW settings.
    batch_size : windows per step (per process under DDP).
    max_epochs, patience : stop after ``patience`` epochs without a better validation AUC.
    val_subjects : subjects held out of the training data for early stopping.
    seed : seeds Python, NumPy and torch, and the choice of validation subjects.
    subset_prob : probability that a training window gets a random channel subset.
    amp_range : amplitudes are scaled by a log-uniform factor in [1/amp_range, amp_range].
    noise_uv : white noise of standard deviation up to this (µV) is added.
    pos_jitter_m : standard deviation of the electrode position jitter (m).
    adversarial : None, ``"fgsm"`` or ``"pgd"`` — add adversarial examples to each batch.
    adv_eps, pgd_steps : attack budget (relative to each channel's std) and PGD iterations.
    mixed_precision : use autocast (bfloat16/float16) on CUDA.
    absolute_level : give the model each channel's absolute log power (see :class:`FocusNet`).
    """

    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 2
    dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 128
    max_epochs: int = 60
    patience: int = 10
    val_subjects: int = 4
    seed: int = 0
    subset_prob: float = 0.5
    amp_range: float = 2.0
    noise_uv: float = 1.0
    pos_jitter_m: float = 0.005
    adversarial: str | None = None
    adv_eps: float = 0.05
    pgd_steps: int = 5
    mixed_precision: bool = True
    absolute_level: bool = True

    def __post_init__(self) -> None:
        if self.adversarial not in (None, *ATTACKS):
            raise ValueError(f"adversarial must be None or one of {ATTACKS}, "
                             f"got {self.adversarial!r}")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError("batch_size, max_epochs and patience must be >= 1")
        if not 0 <= self.subset_prob <= 1:
            raise ValueError(f"subset_prob must be in [0, 1], got {self.subset_prob}")
        if self.amp_range < 1 or self.noise_uv < 0 or self.lr <= 0:
            raise ValueError("need amp_range >= 1, noise_uv >= 0, lr > 0")

    def architecture(self, ws: WindowSet) -> dict:
        """FocusNet hyper-parameters for windows of ``ws``."""
        return {"n_times": int(ws.X.shape[2]), "sfreq": float(ws.sfreq), "d_model": self.d_model,
                "n_heads": self.n_heads, "n_layers": self.n_layers, "dropout": self.dropout,
                "absolute_level": self.absolute_level}


@dataclass
class TrainResult:
    """What a training run produced (the model is on the CPU, in eval mode, best epoch)."""

    model: FocusNet
    config: TrainConfig
    history: list[dict]
    best_epoch: int
    best_score: float
    train_subjects: list[int]
    val_subjects: list[int]
    seconds: float
    device: str
    world_size: int = 1
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready description for model.json's ``training`` section."""
        return {"config": asdict(self.config), "best_epoch": self.best_epoch,
                "best_val_auc": self.best_score, "epochs_run": len(self.history),
                "train_subjects": self.train_subjects, "val_subjects": self.val_subjects,
                "seconds": round(self.seconds, 1), "device": self.device,
                "world_size": self.world_size, "history": self.history}


def split_subjects(subjects: list[int], n_val: int, seed: int) -> tuple[list[int], list[int]]:
    """Choose ``n_val`` validation subjects at random (seeded); the rest train."""
    rng = np.random.default_rng(seed)
    if n_val <= 0 or len(subjects) < 2:
        return sorted(subjects), []
    n_val = min(n_val, len(subjects) - 1)
    val = sorted(int(s) for s in rng.choice(subjects, size=n_val, replace=False))
    return [s for s in sorted(subjects) if s not in val], val


def subset_masks(ch_names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Boolean channel masks of the headset layouts available within ``ch_names``.

    ``full`` (all), ``cyton`` and ``muse`` (each headset electrode, or its nearest available
    electrode), as used for augmentation and for validation.
    """
    out = {"full": np.ones(len(ch_names), bool)}
    for name in ("cyton", "muse"):
        chosen = montage.nearest(montage.PRESETS[name], ch_names)
        m = np.isin(np.asarray(ch_names), chosen)
        if m.sum() >= montage.MIN_CHANNELS and not m.all():
            out[name] = m
    return out


def log_spectra(model: FocusNet, X: np.ndarray, device: torch.device,
                batch_size: int = 1024) -> torch.Tensor:
    """Welch log-PSD of every window, shape (n, n_chans, n_bins), on ``device``."""
    out = []
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            xb = torch.as_tensor(X[i:i + batch_size], dtype=torch.float32, device=device)
            out.append(model.log_spectrum(xb))
    return torch.cat(out) if out else torch.zeros(0, X.shape[1], model.spectrum.n_bins)


def predict(model: FocusNet, ws: WindowSet, *, device: str | torch.device = "cpu",
            batch_size: int = 1024, channels: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Focus scores and attention of a model on a window set.

    Parameters
    ----------
    channels : bool array, shape (n_channels,), optional
        Channel subset to use (others masked out).

    Returns
    -------
    scores : array, shape (n_windows,)
        sigmoid(logit) in [0, 1].
    attention : array, shape (n_windows, n_channels)
    """
    dev = torch.device(device)
    model = model.to(dev).eval()
    pos = torch.as_tensor(ws.positions(), dtype=torch.float32, device=dev)
    mask_all = ws.full_mask() if channels is None else ws.full_mask() & channels[None]
    scores, attn = [], []
    with torch.inference_mode():
        for i in range(0, len(ws), batch_size):
            xb = torch.as_tensor(ws.X[i:i + batch_size], dtype=torch.float32, device=dev)
            mb = torch.as_tensor(mask_all[i:i + batch_size], device=dev)
            logits, a = model(xb, pos, mb)
            scores.append(torch.sigmoid(logits.float()).cpu().numpy())
            attn.append(a.float().cpu().numpy())
    if not scores:
        return np.zeros(0), np.zeros((0, len(ws.ch_names)))
    return np.concatenate(scores), np.concatenate(attn)


def _set_normalisation(model: FocusNet, lp: torch.Tensor, mask: torch.Tensor,
                       y: torch.Tensor) -> None:
    """Standardise token features: centre on the mean of the class means, scale by the std."""
    with torch.no_grad():
        feats = model.features(lp, mask)
        means = [feats[y == c][mask[y == c]].mean(0) for c in (0, 1)]
        model.feat_mean.copy_(torch.stack(means).mean(0))
        model.feat_std.copy_(feats[mask].std(0).clamp_min(1e-3))


class _Augmenter:
    """Random channel subsets, amplitude, noise and position jitter for a batch."""

    def __init__(self, cfg: TrainConfig, ch_names: tuple[str, ...], sfreq: float,
                 device: torch.device, seed: int) -> None:
        self.cfg = cfg
        self.sfreq = sfreq
        self.device = device
        self.presets = torch.as_tensor(
            np.stack([m for k, m in subset_masks(ch_names).items() if k != "full"]
                     or [np.ones(len(ch_names), bool)]), device=device)
        self.gen = torch.Generator(device="cpu").manual_seed(seed)

    def _rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.gen).to(self.device)

    def masks(self, mask: torch.Tensor) -> torch.Tensor:
        b, c = mask.shape
        choose = self._rand(b) < self.cfg.subset_prob
        kind = self._rand(b)
        preset = self.presets[(self._rand(b) * len(self.presets)).long().clamp_max(
            len(self.presets) - 1)]
        k = montage.MIN_CHANNELS + (self._rand(b) * (c - montage.MIN_CHANNELS + 1)).long()
        ranks = self._rand(b, c).argsort(1).argsort(1)
        random_subset = ranks < k[:, None]
        sub = torch.where((kind < 0.5)[:, None], preset, random_subset)
        new = torch.where(choose[:, None], mask & sub, mask)
        return torch.where(new.any(1, keepdim=True), new, mask)

    def positions(self, pos: torch.Tensor, b: int) -> torch.Tensor:
        jitter = torch.randn(b, *pos.shape, generator=self.gen).to(self.device)
        return pos.unsqueeze(0) + self.cfg.pos_jitter_m * jitter

    def log_power(self, lp: torch.Tensor) -> torch.Tensor:
        b, c, _ = lp.shape
        gain = (self._rand(b, 1, 1) * 2 - 1) * 2 * math.log10(self.cfg.amp_range)
        lp = lp + gain + 0.05 * torch.randn(b, c, 1, generator=self.gen).to(self.device)
        sigma = self._rand(b, 1, 1) * self.cfg.noise_uv
        return torch.log10(10.0**lp + 2 * sigma**2 / self.sfreq)

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _ = x.shape
        gain = self.cfg.amp_range ** (self._rand(b, 1, 1) * 2 - 1)
        gain = gain * 10 ** (0.025 * torch.randn(b, c, 1, generator=self.gen).to(self.device))
        noise = torch.randn(x.shape, generator=self.gen).to(self.device)
        return x * gain + noise * self._rand(b, 1, 1) * self.cfg.noise_uv


class _Net(torch.nn.Module):
    """Wraps the model so DDP sees one forward for both the spectral and the raw path."""

    def __init__(self, model: FocusNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, inp: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor,
                raw: bool) -> torch.Tensor:
        if raw:
            return self.model(inp, pos, mask)[0]
        return self.model.forward_spectrum(inp, pos, mask)[0]


def _validation_score(model: FocusNet, val_lp: torch.Tensor, val_y: np.ndarray,
                      pos: torch.Tensor, masks: dict[str, torch.Tensor]) -> tuple[float, dict]:
    model.eval()
    aucs = {}
    with torch.no_grad():
        for name, m in masks.items():
            scores = []
            for i in range(0, len(val_lp), 2048):
                lp = val_lp[i:i + 2048]
                mm = m[i:i + 2048]
                scores.append(torch.sigmoid(model.forward_spectrum(lp, pos, mm)[0].float()))
            s = torch.cat(scores).cpu().numpy()
            aucs[name] = binary_metrics(val_y, s)["auc"]
    return float(np.mean(list(aucs.values()))), aucs


def train(data: WindowSet, *, config: TrainConfig = TrainConfig(), val: WindowSet | None = None,
          init: FocusNet | None = None, device: str | torch.device | None = None,
          logdir: str | os.PathLike | None = None,
          checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
          progress: Callable[[dict], None] | None = None,
          cancel: Callable[[], bool] | None = None) -> TrainResult:
    """Train a focus model.

    Parameters
    ----------
    data : WindowSet
        Training windows (validation subjects are taken out of it unless ``val`` is given).
    config : TrainConfig
        Hyper-parameters.
    val : WindowSet, optional
        Validation windows; default: ``config.val_subjects`` subjects of ``data`` (by subject,
        never a split of one subject's windows). With fewer than 2 subjects there is no
        validation and training runs ``max_epochs``.
    init : FocusNet, optional
        Start from this model (its feature normalisation is kept); otherwise a new model.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU (under DDP: this process's GPU).
    logdir : path-like, optional
        TensorBoard log folder.
    checkpoint_dir : path-like, optional
        Save a resumable checkpoint there after every epoch.
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir``.
    progress : callable(dict), optional
        Called after each epoch with the epoch's history row (rank 0 only).
    cancel : callable() -> bool, optional
        Polled between batches; when it returns True, :class:`Cancelled` is raised.

    Returns
    -------
    TrainResult
    """
    t0 = time.perf_counter()
    cfg = config
    world = ddp.setup()
    dev = ddp.device(world) if device is None and world.size > 1 else select_device(device)
    torch.manual_seed(cfg.seed)
    if val is None:
        train_subj, val_subj = split_subjects(data.subjects, cfg.val_subjects, cfg.seed)
        val = data.of_subjects(val_subj) if val_subj else None
        data = data.of_subjects(train_subj)
    else:
        train_subj, val_subj = data.subjects, val.subjects
    if len(data) == 0 or len(np.unique(data.y)) < 2:
        raise ValueError("training needs windows of both classes (rest and task)")
    model = init if init is not None else FocusNet(**cfg.architecture(data))
    model = model.to(dev)
    pos = torch.as_tensor(data.positions(), dtype=torch.float32, device=dev)
    X_lp = log_spectra(model, data.X, dev)
    mask = torch.as_tensor(data.full_mask(), device=dev)
    y = torch.as_tensor(data.y, dtype=torch.float32, device=dev)
    if init is None:
        _set_normalisation(model, X_lp, mask, y)
    val_masks: dict[str, torch.Tensor] = {}
    if val is not None:
        val = val.pick(data.ch_names) if val.ch_names != data.ch_names else val
        val_lp = log_spectra(model, val.X, dev)
        vm = torch.as_tensor(val.full_mask(), device=dev)
        val_masks = {k: vm & torch.as_tensor(m, device=dev)[None]
                     for k, m in subset_masks(data.ch_names).items()}
    raw_X = torch.as_tensor(data.X, device=dev) if cfg.adversarial else None
    net = ddp.wrap(_Net(model), world, dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    use_amp = cfg.mixed_precision and dev.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    n_pos = float(data.y.sum())
    pos_weight = torch.tensor((len(data) - n_pos) / max(n_pos, 1.0), device=dev)
    aug = _Augmenter(cfg, data.ch_names, data.sfreq, dev, cfg.seed + 1000 * world.rank)
    sampler = torch.utils.data.DistributedSampler(
        range(len(data)), num_replicas=world.size, rank=world.rank, shuffle=True, seed=cfg.seed)
    state = {"epoch": 0, "best_score": -math.inf, "best_epoch": 0, "bad_epochs": 0,
             "history": []}
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if resume:
        if checkpoint_dir is None:
            raise ValueError("resume needs checkpoint_dir")
        state, best_state = load_checkpoint(Path(checkpoint_dir), model, opt, scaler, aug.gen)
    writer = None
    if logdir is not None and world.rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(logdir))
    try:
        for epoch in range(state["epoch"], cfg.max_epochs):
            sampler.set_epoch(epoch)
            order = torch.as_tensor(list(sampler), device=dev)
            net.train()
            total, count = 0.0, 0
            for i in range(0, len(order), cfg.batch_size):
                if cancel is not None and cancel():
                    raise Cancelled("training cancelled")
                idx = order[i:i + cfg.batch_size]
                bm = aug.masks(mask[idx])
                bp = aug.positions(pos, len(idx))
                with torch.autocast(device_type=dev.type, dtype=amp_dtype, enabled=use_amp):
                    if raw_X is None:
                        logits = net(aug.log_power(X_lp[idx]), bp, bm, False)
                        loss = F.binary_cross_entropy_with_logits(
                            logits.float(), y[idx], pos_weight=pos_weight)
                    else:
                        xb = aug.raw(raw_X[idx])
                        xa = perturb(model, xb, y[idx], bp, bm, attack=cfg.adversarial,
                                     eps=cfg.adv_eps, steps=cfg.pgd_steps, generator=aug.gen)
                        logits = net(torch.cat([xb, xa]), bp.repeat(2, 1, 1), bm.repeat(2, 1),
                                     True)
                        loss = F.binary_cross_entropy_with_logits(
                            logits.float(), y[idx].repeat(2), pos_weight=pos_weight)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            train_loss = ddp.mean(total / max(count, 1), world, dev)
            row = {"epoch": epoch + 1, "train_loss": train_loss}
            if val is not None:
                score, aucs = _validation_score(model, val_lp, val.y, pos, val_masks)
                row.update({"val_auc": score, **{f"val_auc_{k}": v for k, v in aucs.items()}})
            else:
                score = -train_loss
            improved = score > state["best_score"] + 1e-4
            if improved:
                state.update(best_score=score, best_epoch=epoch + 1, bad_epochs=0)
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                state["bad_epochs"] += 1
            state["history"].append(row)
            state["epoch"] = epoch + 1
            if world.rank == 0:
                if writer is not None:
                    for k, v in row.items():
                        if k != "epoch":
                            writer.add_scalar(k, v, epoch + 1)
                if checkpoint_dir is not None:
                    save_checkpoint(Path(checkpoint_dir), model, opt, scaler, aug.gen, state,
                                    best_state, asdict(cfg))
                if progress is not None:
                    progress(row)
            if val is not None and state["bad_epochs"] >= cfg.patience:
                break
    finally:
        if writer is not None:
            writer.close()
    model.load_state_dict(best_state)
    model = model.cpu().eval()
    return TrainResult(
        model=model, config=cfg, history=state["history"], best_epoch=state["best_epoch"],
        best_score=float(state["best_score"]) if val is not None else float("nan"),
        train_subjects=train_subj, val_subjects=val_subj,
        seconds=time.perf_counter() - t0, device=str(dev), world_size=world.size)
