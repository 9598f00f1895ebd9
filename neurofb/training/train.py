"""Train FocusLRA: a fixed recipe, seeded, early stopping on held-out *subjects*, an ensemble.

The training subjects are split into ``n_members`` disjoint groups (:func:`member_groups`).
Member k is trained on every group but k and early-stopped on group k — never on anyone outside
the training data — and the shipped model puts the members side by side
(:meth:`neurofb.focus.model.FocusLRA.stack`): the mean of their logits and attention. Each
member is trained in two stages:

1. the **linear branch** alone (the band-power logistic regression; attention uniform, residual
   zero), Adam, class-balanced loss, early-stopped on its validation subjects;
2. the **whole network** from there (AdamW), early-stopped on the same subjects; epoch 0 — the
   stage-1 linear model — competes, so a network that does not help its validation subjects is
   left as the linear model.

The validation score is the pooled AUC averaged over the full, Cyton-like and Muse-like
electrode sets (:mod:`neurofb.training.layouts`). Training windows get random channel subsets
(those layouts and random sets of ≥ 3 electrodes) so the one network serves every electrode set.
The feature standardisation (``feat_mean``, ``feat_std``) is estimated on each member's own
training windows.

The same loop runs on the CPU, on CUDA with mixed precision, and under ``torchrun`` (DDP: each
process trains on its share of every epoch's batches, gradients averaged; only rank 0 writes).
Progress goes to a callback and to TensorBoard (``logdir``); a resumable checkpoint
(:mod:`neurofb.training.checkpoint`) is written after every epoch.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neurofb.dsp import montage
from neurofb.focus.model import FocusLRA
from neurofb.training import ddp
from neurofb.training.layouts import LAYOUTS, layout_channels
from neurofb.training.metrics import auc
from neurofb.training.windows import FeatureSet

logger = logging.getLogger(__name__)

__all__ = ["Cancelled", "Recipe", "TrainResult", "check_members", "member_groups", "predict",
           "train_ensemble"]


class Cancelled(Exception):
    """Training was cancelled by the caller."""


@dataclass(frozen=True)
class Recipe:
    """The fixed training recipe (no search at training time; recorded in model.json).

    Parameters
    ----------
    d_model, n_heads, n_layers, dropout : model size (:class:`~neurofb.focus.model.FocusLRA`).
    lr_linear : Adam learning rate of stage 1 (the linear branch).
    lr, weight_decay : AdamW settings of stage 2 (the whole network).
    linear_l2 : L2 penalty on the linear branch's per-channel weights (both stages).
    batch_size : windows per step (per process under DDP).
    max_epochs, patience : per stage; stop after ``patience`` epochs without a better score.
    n_members : ensemble members (= inner folds over the training subjects).
    subset_prob : probability that a training window gets a random channel subset.
    residual : run stage 2 at all (False: the linear branch alone).
    seed : seeds everything (member splits, initialisation, batches, augmentation).
    mixed_precision : autocast (bfloat16/float16) on CUDA; never applied on other devices,
        so a :class:`TrainResult`'s recipe says False there (what was used, not asked).
    """

    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 1
    dropout: float = 0.1
    lr_linear: float = 1e-2
    lr: float = 1e-3
    weight_decay: float = 1e-2
    linear_l2: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 40
    patience: int = 8
    n_members: int = 5
    subset_prob: float = 0.5
    residual: bool = True
    seed: int = 0
    mixed_precision: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError("batch_size, max_epochs and patience must be >= 1")
        if self.n_members < 1:
            raise ValueError(f"n_members must be >= 1, got {self.n_members}")
        if not 0 <= self.subset_prob <= 1:
            raise ValueError(f"subset_prob must be in [0, 1], got {self.subset_prob}")
        if not (self.lr > 0 and self.lr_linear > 0 and self.weight_decay >= 0
                and self.linear_l2 >= 0):
            raise ValueError("learning rates must be > 0, weight_decay and linear_l2 >= 0")
        if min(self.d_model, self.n_heads, self.n_layers) < 1:
            raise ValueError("d_model, n_heads and n_layers must be >= 1")
        if self.d_model % self.n_heads:  # said before any data is loaded, not after
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads "
                             f"({self.n_heads})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def member_model(self, n_features: int) -> FocusLRA:
        """A new, untrained one-member network of this recipe's size."""
        return FocusLRA(n_members=1, n_features=n_features, d_model=self.d_model,
                        n_heads=self.n_heads, n_layers=self.n_layers, dropout=self.dropout)


@dataclass
class TrainResult:
    """A trained ensemble (on the CPU, eval mode) and how it was trained."""

    model: FocusLRA
    recipe: Recipe
    members: list[dict]
    seconds: float
    device: str
    world_size: int = 1
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready description for model.json's ``training`` section."""
        return {"recipe": asdict(self.recipe), "members": self.members,
                "seconds": round(self.seconds, 1), "device": self.device,
                "world_size": self.world_size, **self.extra}


def select_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def member_groups(subjects: Sequence[int], n_members: int, seed: int) -> list[list[int]]:
    """Split subjects into ``n_members`` disjoint validation groups (seeded; some may be empty
    when there are fewer subjects than members)."""
    subjects = sorted(int(s) for s in subjects)
    perm = np.random.default_rng(seed).permutation(subjects)
    return [sorted(int(s) for s in g) for g in np.array_split(perm, n_members)]


def check_members(fs: FeatureSet, recipe: Recipe, *, scored: np.ndarray | None = None,
                  retrain: bool = False, what: str = "") -> list[int]:
    """Check, before any training, that every member can be trained and early-stopped.

    Member k trains on the subjects outside its validation group (:func:`member_groups`) and is
    early-stopped on the scored windows of that group: both need windows of rest and of task.

    Parameters
    ----------
    fs : FeatureSet
        The training windows.
    recipe : Recipe
        Its ``n_members`` and ``seed`` make the groups.
    scored : bool array, shape (n_windows,), optional
        Which windows count in validation (default: all).
    retrain : bool
        Fine-tuning a trained model (``init``): a member without validation windows is allowed
        (it is fine-tuned for ``max_epochs``) and returned, not refused.
    what : str
        Said after "windows of both rest and task" in messages (" scored in baseline mode").

    Returns
    -------
    list of int
        The members (0-based) that cannot be validated (only ever non-empty with ``retrain``).

    Raises
    ------
    ValueError
        Training from scratch, and a member would train on, or be validated on, no windows of
        both classes; the message says how many subjects that takes.
    """
    if len(np.unique(fs.y)) < 2:
        raise ValueError("training needs windows of both classes (rest and task)")
    scored = np.ones(len(fs), bool) if scored is None else np.asarray(scored, bool)
    n = recipe.n_members
    groups = member_groups(fs.subjects, n, recipe.seed)
    both = [s for s in fs.subjects if len(np.unique(fs.y[(fs.subject == s) & scored])) == 2]
    rule = "each member trains on some subjects and is early-stopped on others"
    if not retrain and len(both) < 2:
        raise ValueError(f"training needs at least 2 subjects (eegmat people or recordings) "
                         f"with windows of both rest and task{what}; the data has {len(both)}: "
                         f"add data ({rule})")
    unvalidated = []
    for k, group in enumerate(groups):
        held = np.isin(fs.subject, group)
        if not retrain and len(np.unique(fs.y[~held])) < 2:
            raise ValueError(f"member {k + 1} of {n} would train on no windows of both rest "
                             f"and task: train at least 2 members (--members; {rule})")
        if len(np.unique(fs.y[held & scored])) < 2:
            unvalidated.append(k)
    if unvalidated and not retrain:
        k = unvalidated[0]
        short = (f"{len(both)} subjects (eegmat people or recordings) have windows of both rest "
                 f"and task{what}, for {n} members" if len(both) < n
                 else f"its held-out subjects {groups[k]} lack windows of rest or task{what}")
        raise ValueError(f"member {k + 1} of {n} cannot be validated: {short}: train at most "
                         f"{max(2, min(len(both), n - 1))} members (--members) or add data "
                         f"({rule})")
    return unvalidated


def layout_masks(ch_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Boolean channel masks (n_channels,) of the evaluated layouts within ``ch_names``."""
    out = {}
    for name in LAYOUTS:
        chosen = layout_channels(ch_names, name)
        mask = np.isin(np.asarray(ch_names), chosen)
        if mask.sum() >= montage.MIN_CHANNELS:
            out[name] = mask
    return out


def feature_stats(X: np.ndarray, y: np.ndarray, mask: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Standardisation of the features: the mean of the two class means and the pooled std,
    over the present channels of every window. Returns (mean, std), each (n_features,)."""
    flat = X[mask]  # (n_present, n_features)
    cls = np.broadcast_to(y[:, None], mask.shape)[mask]
    means = [flat[cls == c].mean(0) for c in (0, 1) if (cls == c).any()]
    return np.mean(means, axis=0), np.maximum(flat.std(0), 1e-3)


def random_masks(rng: np.random.Generator, base: np.ndarray, presets: np.ndarray,
                 prob: float) -> np.ndarray:
    """Training channel masks: with probability ``prob`` a preset layout or a random subset of
    ≥ 3 electrodes (half each), within the channels each window has."""
    n, c = base.shape
    out = base.copy()
    choose = rng.random(n) < prob
    use_preset = rng.random(n) < 0.5
    for i in np.flatnonzero(choose):
        if use_preset[i] and len(presets):
            sub = presets[rng.integers(len(presets))]
        else:
            sub = np.zeros(c, bool)
            sub[rng.choice(c, size=rng.integers(montage.MIN_CHANNELS, c + 1), replace=False)] = 1
        new = base[i] & sub
        if new.sum() >= 1:
            out[i] = new
    return out


def predict(model: FocusLRA, X: np.ndarray, pos: np.ndarray, mask: np.ndarray | None = None,
            *, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Logits (float64) and attention of ``model`` on feature windows, in batches (torch).

    Parameters
    ----------
    X : array, shape (n_windows, n_channels, n_features)
    pos : array, shape (n_channels, 3)
    mask : bool array, shape (n_windows, n_channels), optional
    """
    model.eval()
    dev = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    p = torch.as_tensor(pos, dtype=dtype, device=dev)
    logits, atts = [], []
    with torch.no_grad():
        for i in range(0, len(X), batch):
            xb = torch.as_tensor(X[i:i + batch], dtype=dtype, device=dev)
            mb = None if mask is None else torch.as_tensor(mask[i:i + batch], device=dev)
            lg, at = model(xb, p, mb)
            logits.append(lg.double().cpu().numpy())
            atts.append(at.double().cpu().numpy())
    if not logits:
        return np.zeros(0), np.zeros((0, X.shape[1]))
    return np.concatenate(logits), np.concatenate(atts)


def validation_auc(model: FocusLRA, val: FeatureSet, pos: np.ndarray,
                   layouts: dict[str, np.ndarray]) -> float:
    """Pooled AUC of the validation windows, averaged over the layouts."""
    base = val.full_mask()
    scores = [auc(val.y, predict(model, val.X, pos, base & m[None])[0])
              for m in layouts.values()]
    return float(np.nanmean(scores))


@dataclass
class _Stage:
    """Where one stage of one member stands (saved in checkpoints)."""

    name: str
    epoch: int = 0
    best: float = -math.inf
    best_epoch: int = 0
    bad: int = 0
    history: list[float] = field(default_factory=list)
    done: bool = False


class _Member:
    """One member's two-stage fit, with its checkpoints.

    Parameters
    ----------
    trainer : _Ensemble
        The ensemble being trained (data, recipe, device, callbacks).
    k : int
        Member index.
    train, val : FeatureSet
        Its training windows and its validation windows (scored ones only; may be empty).
    """

    def __init__(self, trainer: _Ensemble, k: int, train: FeatureSet, val: FeatureSet) -> None:
        self.t = trainer
        self.k = k
        self.seed = trainer.recipe.seed * 1000 + k
        self.train, self.val = train, val
        self.has_val = len(val) > 0 and len(np.unique(val.y)) == 2
        torch.manual_seed(self.seed)
        self.rng = np.random.default_rng(self.seed)
        if trainer.init is not None:
            self.model = trainer.init.member(k % trainer.init.n_members)
        else:
            self.model = trainer.recipe.member_model(train.X.shape[2])
            mean, std = feature_stats(train.X, train.y, train.full_mask())
            with torch.no_grad():
                self.model.feat_mean.copy_(torch.as_tensor(mean[None]))
                self.model.feat_std.copy_(torch.as_tensor(std[None]))
        self.model.to(trainer.device)
        self.best_state = copy.deepcopy(self.model.state_dict())
        self.info: dict[str, Any] = {"n_train": len(train), "n_val": len(val)}

    # -- one epoch --------------------------------------------------------------------------
    def _batches(self) -> list[np.ndarray]:
        order = self.rng.permutation(len(self.train))
        world = self.t.world
        mine = order[world.rank :: world.size]
        size = self.t.recipe.batch_size
        return [mine[i:i + size] for i in range(0, len(mine), size)]

    def _epoch(self, net: torch.nn.Module, opt: torch.optim.Optimizer) -> float:
        t, r = self.t, self.t.recipe
        total, count = 0.0, 0
        net.train()
        for idx in self._batches():
            if t.cancel is not None and t.cancel():
                raise Cancelled("training cancelled")
            masks = random_masks(self.rng, self.train.full_mask()[idx], t.presets,
                                 r.subset_prob)
            xb = torch.as_tensor(self.train.X[idx], dtype=torch.float32, device=t.device)
            mb = torch.as_tensor(masks, device=t.device)
            yb = t.y_train[idx]
            with torch.autocast(device_type=t.device.type, dtype=t.amp_dtype,
                                enabled=t.use_amp):
                logit, _ = net(xb, t.pos, mb)
            loss = F.binary_cross_entropy_with_logits(logit.float(), yb,
                                                      pos_weight=t.pos_weight)
            penalty = (self.model.linear_weights(t.pos) ** 2).sum(-1).mean()
            loss = loss + r.linear_l2 * penalty
            opt.zero_grad(set_to_none=True)
            t.scaler.scale(loss).backward()
            t.scaler.step(opt)
            t.scaler.update()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        return ddp.mean(total / max(count, 1), t.world, t.device)

    def _score(self) -> float:
        if not self.has_val:
            return float("nan")
        return validation_auc(self.model, self.val, self.t.pos_np, self.t.layouts)

    # -- stages ------------------------------------------------------------------------------
    def run_stage(self, stage: _Stage, params: list[torch.nn.Parameter],
                  opt: torch.optim.Optimizer) -> None:
        """Train until early stopping (or ``max_epochs``); leave the best state loaded."""
        r = self.t.recipe
        ids = {id(p) for p in params}
        for p in self.model.parameters():
            p.requires_grad_(id(p) in ids)
        net = ddp.wrap(self.model, self.t.world, self.t.device)
        if stage.epoch == 0 and not stage.history:
            stage.best = self._score() if self.has_val else -math.inf
            stage.history.append(stage.best)
            self.best_state = copy.deepcopy(self.model.state_dict())
        while not stage.done and stage.epoch < r.max_epochs:
            stage.epoch += 1
            loss = self._epoch(net, opt)
            score = self._score()
            stage.history.append(score)
            if not self.has_val or score > stage.best + 1e-4:
                stage.best = score if self.has_val else stage.best
                stage.best_epoch, stage.bad = stage.epoch, 0
                self.best_state = copy.deepcopy(self.model.state_dict())
            else:
                stage.bad += 1
            stage.done = stage.bad >= r.patience or stage.epoch >= r.max_epochs
            self.t.report(self.k, stage, loss, score)
            self.t.save(self, stage, opt)
        self.model.load_state_dict(self.best_state)
        for p in self.model.parameters():
            p.requires_grad_(True)
        self.info[stage.name] = {"best_epoch": stage.best_epoch,
                                 "best_val_auc": None if not self.has_val else stage.best,
                                 "history": [round(h, 4) for h in stage.history]}

    def stages(self) -> list[tuple[_Stage, Callable[[], list], Callable[[list], Any]]]:
        """The stages to run, each with its parameters and optimizer factory."""
        r = self.t.recipe
        out = []
        if self.t.init is None:
            out.append((_Stage("stage1"), self.model.linear_parameters,
                        lambda ps: torch.optim.Adam(ps, lr=r.lr_linear)))
        if r.residual:
            out.append((_Stage("stage2"), lambda: list(self.model.parameters()),
                        lambda ps: torch.optim.AdamW(ps, lr=r.lr, weight_decay=r.weight_decay)))
        return out


class _Ensemble:
    """Shared state of one ensemble's training: data, device, callbacks, checkpoints."""

    def __init__(self, fs: FeatureSet, recipe: Recipe, *, scored: np.ndarray,
                 init: FocusLRA | None, device: str | torch.device | None, tag: str,
                 writer: Any, checkpoint_dir: str | os.PathLike | None,
                 progress: Callable[[dict], None] | None,
                 cancel: Callable[[], bool] | None) -> None:
        self.fs, self.recipe, self.scored, self.init, self.tag = fs, recipe, scored, init, tag
        self.world = ddp.setup()
        self.device = (ddp.device(self.world) if device is None and self.world.size > 1
                       else select_device(device))
        self.use_amp = recipe.mixed_precision and self.device.type == "cuda"
        self.amp_dtype = (torch.bfloat16 if self.use_amp and torch.cuda.is_bf16_supported()
                          else torch.float16)
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.pos_np = fs.positions()
        self.pos = torch.as_tensor(self.pos_np, dtype=torch.float32, device=self.device)
        self.layouts = layout_masks(fs.ch_names)
        partial = [m for m in self.layouts.values() if not m.all()]
        self.presets = np.stack(partial) if partial else np.zeros((0, len(fs.ch_names)), bool)
        self.writer, self.checkpoint_dir = writer, checkpoint_dir
        self.progress, self.cancel = progress, cancel
        self.done: list[FocusLRA] = []
        self.infos: list[dict] = []
        self.y_train = None
        self.pos_weight = None

    def member_data(self, k: int, groups: list[list[int]]) -> tuple[FeatureSet, FeatureSet]:
        val = np.isin(self.fs.subject, groups[k])
        train = self.fs.take(~val)
        self.y_train = torch.as_tensor(train.y, dtype=torch.float32, device=self.device)
        n_pos = float(train.y.sum())
        self.pos_weight = torch.tensor((len(train) - n_pos) / max(n_pos, 1.0),
                                       device=self.device)
        return train, self.fs.take(val & self.scored)

    def report(self, k: int, stage: _Stage, loss: float, score: float) -> None:
        row = {"mode": self.tag, "member": k, "stage": stage.name, "epoch": stage.epoch,
               "train_loss": loss, "val_auc": score}
        if self.world.rank != 0:
            return
        if self.writer is not None:
            step = stage.epoch
            self.writer.add_scalar(f"{self.tag}/member{k}/{stage.name}/train_loss", loss, step)
            if math.isfinite(score):
                self.writer.add_scalar(f"{self.tag}/member{k}/{stage.name}/val_auc", score, step)
        if self.progress is not None:
            self.progress(row)

    def expect(self) -> dict[str, Any]:
        """What a checkpoint of this training must match."""
        return {"tag": self.tag, "recipe": asdict(self.recipe),
                "data": [len(self.fs), self.fs.subjects, list(self.fs.ch_names)]}

    def save(self, member: _Member, stage: _Stage, opt: torch.optim.Optimizer) -> None:
        if self.checkpoint_dir is None or self.world.rank != 0:
            return
        from neurofb.training.checkpoint import optimizer_state, save_checkpoint

        tensors, opt_doc = optimizer_state(opt)
        for i, m in enumerate(self.done):
            tensors.update({f"done{i}.{k}": v for k, v in m.state_dict().items()})
        tensors.update({f"model.{k}": v for k, v in member.model.state_dict().items()})
        tensors.update({f"best.{k}": v for k, v in member.best_state.items()})
        tensors["rng.torch"] = torch.get_rng_state()
        doc = {**self.expect(), "member": member.k, "infos": self.infos,
               "member_info": member.info, "stage": asdict(stage), "optimizer": opt_doc,
               "rng": member.rng.bit_generator.state}
        save_checkpoint(self.checkpoint_dir, doc, tensors)


def _resume(trainer: _Ensemble, groups: list[list[int]]) -> tuple[int, dict | None]:
    """Restore finished members from the checkpoint; return the member to continue and its
    saved state (None: start it afresh)."""
    from neurofb.training.checkpoint import load_checkpoint

    doc, tensors = load_checkpoint(trainer.checkpoint_dir, expect=trainer.expect())
    n_done = int(doc["member"])
    for i in range(n_done):
        m = trainer.recipe.member_model(trainer.fs.X.shape[2])
        m.load_state_dict({k[len(f"done{i}."):]: v for k, v in tensors.items()
                           if k.startswith(f"done{i}.")})
        trainer.done.append(m.eval())
    trainer.infos = list(doc["infos"])
    return n_done, {"doc": doc, "tensors": tensors}


def _continue(member: _Member, saved: dict) -> tuple[_Stage, dict]:
    """Load a member's saved state; return the stage it was in and its optimizer's record."""
    doc, tensors = saved["doc"], saved["tensors"]
    member.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    member.best_state = {k[5:]: v.clone() for k, v in tensors.items() if k.startswith("best.")}
    member.rng.bit_generator.state = doc["rng"]
    member.info = dict(doc["member_info"])
    torch.set_rng_state(tensors["rng.torch"])
    return _Stage(**doc["stage"]), doc["optimizer"]


def _train_member(trainer: _Ensemble, k: int, groups: list[list[int]],
                  saved: dict | None) -> tuple[FocusLRA, dict]:
    """Train member ``k`` (or continue it from a checkpoint's ``saved`` state)."""
    from neurofb.training.checkpoint import restore_optimizer

    train, val = trainer.member_data(k, groups)
    member = _Member(trainer, k, train, val)
    resumed, opt_doc = _continue(member, saved) if saved is not None else (None, None)
    for stage, params, make_opt in member.stages():
        if resumed is not None:
            if stage.name != resumed.name:
                continue  # a stage finished before the checkpoint (its record is restored)
            stage = resumed
        ps = params()
        opt = make_opt(ps)
        if opt_doc is not None and saved is not None:
            restore_optimizer(opt, saved["tensors"], opt_doc)
        resumed, opt_doc = None, None
        member.run_stage(stage, ps, opt)
    member.info["val_subjects"] = groups[k]
    return member.model.cpu().eval(), member.info


def train_ensemble(fs: FeatureSet, *, recipe: Recipe = Recipe(),
                   scored: np.ndarray | None = None, init: FocusLRA | None = None,
                   device: str | torch.device | None = None, tag: str = "cold",
                   logdir: str | os.PathLike | None = None,
                   checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
                   progress: Callable[[dict], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> TrainResult:
    """Train the CV-bagged ensemble on the given windows (all of them training subjects).

    Parameters
    ----------
    fs : FeatureSet
        Training windows: raw features for the cold model, re-centred ones for the baseline
        model (:func:`neurofb.training.modes.baseline_features`).
    recipe : Recipe
        The training recipe.
    scored : bool array, shape (n_windows,), optional
        Which windows count in validation (baseline mode: not the baseline windows).
    init : FocusLRA, optional
        Start every member from this model's (retraining): its standardisation is kept and
        only stage 2 runs.
    device : str or torch.device, optional
        Default CUDA when available, else the CPU (under DDP: this process's GPU).
    tag : str
        Name of the run in progress rows, TensorBoard and checkpoints (``"cold"``, ...).
    logdir : path-like, optional
        TensorBoard log folder.
    checkpoint_dir : path-like, optional
        Save a resumable checkpoint there after every epoch.
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir``.
    progress : callable(dict), optional
        Called after every epoch (rank 0) with ``mode, member, stage, epoch, train_loss,
        val_auc``.
    cancel : callable() -> bool, optional
        Polled between batches; True raises :class:`Cancelled`.

    Returns
    -------
    TrainResult
        Its recipe is ``recipe`` as run: ``mixed_precision`` True only where autocast was used
        (CUDA). With ``extra["unvalidated_members"]`` (1-based) when retraining members that
        have no validation windows of both classes.

    Raises
    ------
    ValueError
        One class only, or (from scratch) members that could not be trained or validated
        (:func:`check_members`).
    """
    t0 = time.perf_counter()
    if len(fs) == 0 or len(np.unique(fs.y)) < 2:
        raise ValueError("training needs windows of both classes (rest and task)")
    if resume and checkpoint_dir is None:
        raise ValueError("resume needs checkpoint_dir")
    scored = np.ones(len(fs), bool) if scored is None else np.asarray(scored, bool)
    unvalidated = check_members(fs, recipe, scored=scored, retrain=init is not None,
                                what=f" ({tag} mode)")
    writer = None
    if logdir is not None and ddp.setup().rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(Path(logdir) / tag))
    trainer = _Ensemble(fs, recipe, scored=scored, init=init, device=device, tag=tag,
                        writer=writer, checkpoint_dir=checkpoint_dir, progress=progress,
                        cancel=cancel)
    groups = member_groups(fs.subjects, recipe.n_members, recipe.seed)
    start, saved = _resume(trainer, groups) if resume else (0, None)
    try:
        for k in range(start, recipe.n_members):
            model, info = _train_member(trainer, k, groups, saved if k == start else None)
            trainer.done.append(model)
            trainer.infos.append(info)
    finally:
        if writer is not None:
            writer.close()
    # said in model.json (and by `neurofb train`): fine-tuned for max_epochs, not early-stopped
    extra = {"unvalidated_members": [k + 1 for k in unvalidated]} if unvalidated else {}
    used = replace(recipe, mixed_precision=trainer.use_amp)  # the recipe as run on this device
    return TrainResult(model=FocusLRA.stack(trainer.done), recipe=used, members=trainer.infos,
                       seconds=time.perf_counter() - t0, device=str(trainer.device),
                       world_size=trainer.world.size, extra=extra)
