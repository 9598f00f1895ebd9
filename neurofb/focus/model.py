"""FocusLRA: a band-power linear branch that a channel-attention network corrects.

One file for the architecture (braindecode style): shapes are checked, no training logic.

Every electrode of a window is a token. Its features (:mod:`neurofb.focus.features`: 5 log band
powers and the log PSD at 1–45 Hz — raw in cold mode, re-centred on the session's rest in
baseline mode, :mod:`neurofb.focus.baseline`) are standardised with constants stored in the
model (``feat_mean``, ``feat_std``, set from the training windows).

- **Linear branch** (the band-power logistic regression, montage-agnostic): each channel gets a
  score ``s_c = w(p_c) · z_c[:5] + b(p_c)`` of its standardised log band powers, the weights a
  small smooth function of the electrode's 3-D position ``p_c`` (MNE's 10-05 template). For a
  fixed electrode set this *is* a logistic regression on per-channel band powers; because the
  weights live on the scalp, not on a channel index, any subset of 10-05 electrodes works.
- **Attention network**: tokens ``h_c = embed(z_c) + pos(p_c)`` pass ``n_layers`` masked
  self-attention layers; a learned key scores each channel, and the softmax over the channels
  present gives the attention ``a_c`` (the app's head map).
- **Output**: ``logit = bias + Σ_c a_c s_c + residual(Σ_c a_c h_c)``: the attention weights the
  channels' linear scores (so the head map says where the estimate is read from) and the
  residual corrects it. The key and the residual start at zero, so the untrained network is
  the linear branch averaged over channels.

**Members side by side.** The module holds ``n_members`` networks whose parameters are stacked
along a leading axis: every layer is one batched matrix product over the members, so the
exported ONNX graph of a 5-member ensemble has the node count of one member (ONNX Runtime's
per-node overhead dominates at this size). The output is the members' mean logit and mean
attention. Training fits one-member modules (:mod:`neurofb.training.train`) and
:meth:`FocusLRA.stack` puts them side by side.

Only operators ONNX Runtime runs in float64: matrix products, elementwise arithmetic, ``Relu``,
``Tanh``, ``Softmax``, ``LayerNormalization``, reductions. The activations are ReLU (the
prototype's GELU needs ``Erf``, which ONNX Runtime lacks in float64, and every float64
transcendental costs time: ReLU costs nothing), and ``tanh`` in the linear branch's position
network, which depends on the electrodes only (the engine folds it into constants when it binds
a stream: :mod:`neurofb.focus.runtime`). The final sigmoid is left to the caller, in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ARCHITECTURE", "POSITION_SCALE_M", "FocusLRA", "build"]

#: The architecture's name in model.json.
ARCHITECTURE = "FocusLRA"
#: Electrode positions are divided by this (m): the template's head radius is about 0.1 m.
POSITION_SCALE_M = 0.1
#: Added to the attention scores of absent channels.
MASK_FILL = -1e4
#: Hidden width of the linear branch's position network.
_LIN_HIDDEN = 16


def _uniform(shape: Sequence[int], fan_in: int) -> nn.Parameter:
    """A parameter drawn as ``nn.Linear`` draws its weights and biases: U(±1/√fan_in)."""
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))


class _Dense(nn.Module):
    """``n_members`` side-by-side linear layers: ``x @ w[m] + b[m]`` for every member."""

    def __init__(self, n_members: int, n_in: int, n_out: int, *, zero: bool = False) -> None:
        super().__init__()
        self.weight = _uniform((n_members, n_in, n_out), n_in)
        self.bias = _uniform((n_members, n_out), n_in)
        if zero:
            with torch.no_grad():
                self.weight.zero_()
                self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (members or 1, ..., n_in) → (members, ..., n_out)."""
        m, n_in, n_out = self.weight.shape
        lead = [1] * (x.ndim - 3)
        return x @ self.weight.reshape(m, *lead, n_in, n_out) + self.bias.reshape(
            m, *lead, 1, n_out)


def _normalise(x: torch.Tensor, d: int) -> torch.Tensor:
    """Layer normalisation over the last axis without scale and shift (folded into the next
    layer): one ``LayerNormalization`` node in the graph (opset 17)."""
    return F.layer_norm(x, (d,), eps=1e-5)


class _Norm(nn.Module):
    """Layer normalisation's per-member scale and shift, applied by the layer that follows.

    ``fold(w, b)`` returns the following linear layer's weights with the scale and shift
    folded in: ``(norm(x) · γ + β) @ w + b = norm(x) @ (γ w) + (β @ w + b)``.
    """

    def __init__(self, n_members: int, d: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_members, d))
        self.bias = nn.Parameter(torch.zeros(n_members, d))

    def fold(self, w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """w: (members, ..., d, n_out), b: (members, ..., 1, n_out) → the same, folded."""
        lead = [1] * (w.ndim - 3)
        m, d = self.weight.shape
        gamma = self.weight.reshape(m, *lead, d, 1)
        beta = self.bias.reshape(m, *lead, 1, d)
        return gamma * w, b + beta @ w


class _Block(nn.Module):
    """Pre-norm self-attention layer over channel tokens, the heads in the weights' shape.

    The query, key and value weights are ``(members, 3 · heads, d, d / heads)``: one product
    gives every head's q, k and v, already split by head (no reshapes in the graph); the
    query's 1/√(d/heads) scaling is folded into its weights.
    """

    def __init__(self, n_members: int, d: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d % n_heads:
            raise ValueError(f"d_model ({d}) must be a multiple of n_heads ({n_heads})")
        dh = d // n_heads
        self.d = d
        self.n_heads = n_heads
        self.scale = 1.0 / math.sqrt(dh)
        self.dropout = dropout
        #: Scores as a product and a sum instead of q @ kᵀ: the graph for BrainFlow's ONNX
        #: Runtime 1.11, whose optimiser fuses a transpose into a MatMul it can only run in
        #: float32 (:func:`neurofb.focus.export.export_brainflow` sets it on its copy).
        self.plain_scores = False
        self.norm1 = _Norm(n_members, d)
        self.qkv_w = _uniform((n_members, 3 * n_heads, d, dh), d)
        self.qkv_b = _uniform((n_members, 3 * n_heads, 1, dh), d)
        self.proj_w = _uniform((n_members, n_heads, dh, d), d)
        self.proj_b = _uniform((n_members, d), d)
        self.norm2 = _Norm(n_members, d)
        self.ff1 = _Dense(n_members, d, 2 * d)
        self.ff2 = _Dense(n_members, 2 * d, d)

    def forward(self, h: torch.Tensor, key_bias: torch.Tensor | None) -> torch.Tensor:
        """h: (members, batch, chans, d); key_bias: (batch, chans) or None."""
        m, h_ = h.shape[0], self.n_heads
        scale = torch.ones(3 * h_, 1, 1, dtype=h.dtype)
        scale[:h_] = self.scale
        w, b = self.norm1.fold(self.qkv_w * scale, self.qkv_b * scale)
        # (M, B, 3H, C, dh)
        qkv = _normalise(h, self.d).unsqueeze(2) @ w.unsqueeze(1) + b.unsqueeze(1)
        # slices, not split: ONNX Split has no float64 kernel in BrainFlow's ONNX Runtime 1.11
        q, k, v = qkv[:, :, :h_], qkv[:, :, h_ : 2 * h_], qkv[:, :, 2 * h_ :]
        if self.plain_scores:  # (M, B, H, C, C)
            scores = (q.unsqueeze(-2) * k.unsqueeze(-3)).sum(-1)
        else:
            scores = q @ k.transpose(-1, -2)
        if key_bias is not None:
            scores = scores + key_bias[None, :, None, None, :]
        att = F.dropout(torch.softmax(scores, dim=-1), self.dropout, self.training)
        out = ((att @ v) @ self.proj_w.unsqueeze(1)).sum(2)  # (M, B, C, d)
        h = h + F.dropout(out + self.proj_b.reshape(m, 1, 1, -1), self.dropout, self.training)
        w1, b1 = self.norm2.fold(self.ff1.weight, self.ff1.bias.unsqueeze(1))
        ff = torch.relu(_normalise(h, self.d) @ w1.unsqueeze(1) + b1.unsqueeze(1))
        return h + F.dropout(self.ff2(ff), self.dropout, self.training)


class FocusLRA(nn.Module):
    """Montage-agnostic focus classifier: band-power linear branch + channel-attention correction.

    Parameters
    ----------
    n_members : int
        Networks side by side (an ensemble; their logits and attention are averaged).
    n_features : int
        Features per channel (5 band powers + 45 PSD bins).
    n_bands : int
        How many of the first features are the band powers the linear branch reads.
    d_model, n_heads, n_layers : int
        Token width, attention heads, self-attention layers.
    dropout : float
        Dropout while training.

    Notes
    -----
    The forward pass is written so that everything depending only on the weights and the
    electrode positions (the feature standardisation folded into the first layers, the
    position networks, layer-norm scales) is a constant once the positions are: the exporter
    folds what depends on weights alone, and the engine folds the rest when it binds a stream
    (:func:`neurofb.focus.runtime.bind_positions`), so a window costs only what depends on it.
    """

    def __init__(self, *, n_members: int = 1, n_features: int = 50, n_bands: int = 5,
                 d_model: int = 32, n_heads: int = 4, n_layers: int = 1,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if n_members < 1:
            raise ValueError(f"n_members must be >= 1, got {n_members}")
        if not 0 < n_bands <= n_features:
            raise ValueError(f"need 0 < n_bands <= n_features, got {n_bands}, {n_features}")
        if n_layers < 0 or d_model < 1 or not 0 <= dropout < 1:
            raise ValueError("need n_layers >= 0, d_model >= 1 and 0 <= dropout < 1")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.hparams: dict[str, Any] = {
            "n_members": int(n_members), "n_features": int(n_features), "n_bands": int(n_bands),
            "d_model": int(d_model), "n_heads": int(n_heads), "n_layers": int(n_layers),
            "dropout": float(dropout)}
        m = int(n_members)
        self.n_members = m
        self.n_bands = int(n_bands)
        self.d_model = int(d_model)
        self.dropout = float(dropout)
        self.register_buffer("feat_mean", torch.zeros(m, n_features))
        self.register_buffer("feat_std", torch.ones(m, n_features))
        # linear branch: position -> n_bands weights and an offset, per channel
        self.lin1 = _Dense(m, 3, _LIN_HIDDEN)
        self.lin_w = _Dense(m, _LIN_HIDDEN, n_bands)
        self.lin_b = _Dense(m, _LIN_HIDDEN, 1)
        self.bias = nn.Parameter(torch.zeros(m))
        # attention network
        self.embed1 = _Dense(m, n_features, d_model)
        self.embed2 = _Dense(m, d_model, d_model)
        self.pos1 = _Dense(m, 3, d_model)
        self.pos2 = _Dense(m, d_model, d_model)
        self.blocks = nn.ModuleList(_Block(m, d_model, n_heads, dropout) for _ in range(n_layers))
        self.norm = _Norm(m, d_model)
        # read-out: column 0 scores each channel for the attention (its bias would cancel in
        # the softmax: none), column 1 is the residual correction per channel
        self.head_w = nn.Parameter(torch.zeros(m, d_model, 2))
        self.head_b = nn.Parameter(torch.zeros(m))

    @property
    def n_features(self) -> int:
        """Features per channel."""
        return int(self.feat_mean.shape[1])

    def linear_parameters(self) -> list[nn.Parameter]:
        """Parameters of the linear branch (training fits them first, alone)."""
        return [*self.lin1.parameters(), *self.lin_w.parameters(), *self.lin_b.parameters(),
                self.bias]

    def linear_weights(self, pos: torch.Tensor) -> torch.Tensor:
        """The linear branch's band weights at electrode positions (m): (members, chans, bands).

        (Per standardised feature; training penalises their size.)
        """
        return self.lin_w(torch.tanh(self.lin1((pos / POSITION_SCALE_M).unsqueeze(0))))

    def forward(self, feats: torch.Tensor, pos: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Score windows.

        Parameters
        ----------
        feats : tensor, shape (batch, chans, n_features)
            Per-channel features (raw in cold mode, re-centred in baseline mode).
        pos : tensor, shape (chans, 3) or (batch, chans, 3)
            Electrode positions in metres, in the channels' order.
        mask : tensor, shape (batch, chans), optional
            True (or 1) where a channel is present; default all present.

        Returns
        -------
        logit : tensor, shape (batch,)
            Mean over the members of the log-odds of the task (focused) class.
        attention : tensor, shape (batch, chans)
            Mean attention over channels (sums to 1 over the present ones, 0 on absent ones).
        """
        self._check(feats, pos, mask)
        nb = self.n_bands
        inv = 1.0 / self.feat_std  # (M, F)
        mu = self.feat_mean
        # position networks: constants once the electrodes are known
        p = (pos if pos.ndim == 3 else pos.unsqueeze(0)).unsqueeze(0) / POSITION_SCALE_M
        hidden = torch.tanh(self.lin1(p))  # (M, 1 or B, C, 16)
        w_lin = self.lin_w(hidden) * inv[:, None, None, :nb]
        b_lin = self.lin_b(hidden).squeeze(-1) - (w_lin * mu[:, None, None, :nb]).sum(-1)
        w_emb = self.embed1.weight * inv.unsqueeze(-1)  # standardisation folded in
        b_emb = self.embed1.bias - ((mu * inv).unsqueeze(1) @ self.embed1.weight).squeeze(1)
        tokens = self.embed2.bias[:, None, None, :] + self.pos2(torch.relu(self.pos1(p)))
        # the window
        score = (feats[..., :nb] * w_lin).sum(-1) + b_lin  # (M, B, C)
        h = torch.relu(feats @ w_emb.unsqueeze(1) + b_emb[:, None, None, :])
        h = F.dropout(h, self.dropout, self.training)
        h = h @ self.embed2.weight.unsqueeze(1) + tokens  # (M, B, C, d)
        fill = None
        if mask is not None:
            fill = (1.0 - mask.to(feats.dtype)) * MASK_FILL  # (B, C)
        for block in self.blocks:
            h = block(h, fill)
        w_head, b_head = self.norm.fold(self.head_w, torch.zeros_like(self.head_w[:, :1]))
        # (M, B, C, 2)
        out = _normalise(h, self.d_model) @ w_head.unsqueeze(1) + b_head.unsqueeze(1)
        keys, res = out[..., 0], out[..., 1]  # not unbind (an ONNX Split: see _Block)
        if fill is not None:
            keys = keys + fill.unsqueeze(0)
        att = torch.softmax(keys, dim=-1)
        # Σ_c a_c (s_c + r_c) + b: the residual of the pooled token, Σ_c a_c = 1
        logit = (att * (score + res)).sum(-1) + (self.bias + self.head_b).unsqueeze(-1)
        return logit.mean(0), att.mean(0)

    def _check(self, feats: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor | None) -> None:
        if feats.ndim != 3 or feats.shape[-1] != self.n_features:
            raise ValueError(f"feats must be (batch, chans, {self.n_features}), got "
                             f"{tuple(feats.shape)}")
        b, c, _ = feats.shape
        if pos.shape[-2:] != (c, 3) or pos.ndim not in (2, 3):
            raise ValueError(f"pos must be ({c}, 3) or (batch, {c}, 3), got {tuple(pos.shape)}")
        if mask is not None and tuple(mask.shape) != (b, c):
            raise ValueError(f"mask must be ({b}, {c}), got {tuple(mask.shape)}")

    @classmethod
    def stack(cls, members: Sequence[FocusLRA]) -> FocusLRA:
        """Put trained models side by side as one module (their members concatenated).

        Raises
        ------
        ValueError
            No models, or models of different sizes.
        """
        if not members:
            raise ValueError("nothing to stack: no models")
        hp = {k: v for k, v in members[0].hparams.items() if k != "n_members"}
        if any({k: v for k, v in m.hparams.items() if k != "n_members"} != hp for m in members):
            raise ValueError("only models of the same size can be stacked")
        out = cls(n_members=sum(m.n_members for m in members), **hp)
        states = [m.state_dict() for m in members]
        out.load_state_dict({k: torch.cat([s[k] for s in states]) for k in states[0]})
        return out.to(next(iter(states[0].values())).dtype).eval()

    def member(self, index: int) -> FocusLRA:
        """One member as a module of its own (a copy, in eval mode)."""
        if not 0 <= index < self.n_members:
            raise ValueError(f"member {index} out of range (0..{self.n_members - 1})")
        hp = {k: v for k, v in self.hparams.items() if k != "n_members"}
        out = FocusLRA(n_members=1, **hp)
        out.load_state_dict({k: v[index : index + 1].clone()
                             for k, v in self.state_dict().items()})
        return out.to(self.feat_mean.dtype).eval()

    def onnx_contract(self) -> Any:
        """The exported graph's contract (:class:`neurofb.focus.export.GraphContract`)."""
        from neurofb.focus.export import lra_contract

        return lra_contract(self)


def build(arch: dict[str, Any]) -> FocusLRA:
    """Build an (untrained) FocusLRA from model.json's ``architecture`` section.

    Raises
    ------
    ValueError
        Another architecture, or hyper-parameters FocusLRA does not take.
    """
    name = arch.get("name", ARCHITECTURE)
    if name != ARCHITECTURE:
        raise ValueError(f"unknown architecture {name!r}: this neurofb knows {ARCHITECTURE} "
                         "(models of older releases must be retrained)")
    known = {"n_members", "n_features", "n_bands", "d_model", "n_heads", "n_layers",
             "dropout"}
    hp = {k: v for k, v in arch.items() if k not in ("name", "modes")}
    unknown = set(hp) - known
    if unknown:
        raise ValueError(f"unknown FocusLRA hyper-parameters {sorted(unknown)}")
    return FocusLRA(**hp)
