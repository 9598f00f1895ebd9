"""The focus model: a montage-agnostic attention classifier over channel tokens.

One file for the architecture (braindecode style): shape arguments are checked, no training logic.

Each channel of a window becomes a token: its Welch log power spectrum (1 Hz bins) is split into
the spectral shape (log power minus the channel's mean log power — per-channel normalisation) and
the channel's level (mean log power, absolute and relative to the other channels), standardised
with the training set's statistics and embedded by a small MLP shared by all channels. The
electrode's 3-D position (MNE's 10-05 template) is embedded by another MLP and added, so any subset
of standard electrodes works. Tokens go through a few pre-norm layers of scaled dot-product
self-attention with a key-padding mask for absent channels; a learned query then pools them, and
its attention weights over channels are returned as the explanation.

A personalised model (``personal_channels > 0``, written by ``neurofb calibrate``) adds a
:class:`PersonalHead`: a logistic regression fitted on one person's calibration windows that
stacks the network's logit with that person's log band powers per electrode. It is tied to the
electrodes it was calibrated on, in their order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neurofb.dsp.features import CLASSIC_BANDS

#: Scale of electrode positions: the template's head radius is about 0.1 m.
POSITION_SCALE_M = 0.1


class SpectralTokens(nn.Module):
    """Welch log power spectrum of every channel, in fixed 1/seg_s Hz bins.

    The discrete Fourier transform of each Hann-tapered segment is a product with a fixed real
    basis (cosine and sine of the kept bins only), not an FFT: the same numbers to rounding, and
    a graph every ONNX runtime can run (no complex tensors, no DFT operator).

    Parameters
    ----------
    sfreq : float
        Sampling rate of the input in Hz.
    seg_s : float
        Welch segment length in seconds (half-overlapping Hann segments).
    fmin, fmax : float
        Frequency range kept, in Hz (inclusive).
    """

    def __init__(self, *, sfreq: float, seg_s: float, fmin: float, fmax: float) -> None:
        super().__init__()
        self.seg = round(seg_s * sfreq)
        if self.seg < 8:
            raise ValueError(f"seg_s * sfreq must be >= 8 samples, got {self.seg}")
        freqs = torch.fft.rfftfreq(self.seg, d=1.0 / sfreq)
        keep = (freqs >= fmin) & (freqs <= fmax)
        if not keep.any():
            raise ValueError(f"no frequency bins in [{fmin}, {fmax}] Hz at sfreq {sfreq}")
        self.register_buffer("bins", torch.nonzero(keep).flatten(), persistent=False)
        self.n_bins = int(keep.sum())
        # The tapered basis in float64 whatever the module's dtype (cast per use): a float64
        # model must not see a basis rounded to float32.
        n = torch.arange(self.seg, dtype=torch.float64)
        window = torch.hann_window(self.seg, periodic=False, dtype=torch.float64)
        angle = (2.0 * math.pi / self.seg) * torch.outer(n, self.bins.to(torch.float64))
        self._basis64 = torch.cat([window[:, None] * torch.cos(angle),
                                   window[:, None] * torch.sin(angle)], dim=1)  # (seg, 2 bins)
        self._basis: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}
        self.scale = 1.0 / (sfreq * float((window**2).sum()))

    def basis(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The tapered cosine and sine basis, shape (seg, 2 * n_bins), in ``dtype``."""
        key = (dtype, device)
        if key not in self._basis:
            self._basis[key] = self._basis64.to(device=device, dtype=dtype)
        return self._basis[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return log10 power spectral density, shape (batch, n_chans, n_bins), in log10 µV²/Hz."""
        step = self.seg // 2
        # (B, C, S, seg) by slicing, not Tensor.unfold: torch's ONNX exporter mis-orders unfold
        frames = torch.stack([x[..., s : s + self.seg]
                              for s in range(0, x.shape[-1] - self.seg + 1, step)], dim=-2)
        frames = frames - frames.mean(-1, keepdim=True)
        spec = frames @ self.basis(frames.dtype, frames.device)  # (B, C, S, 2 bins): re, im
        power = (spec * spec).unflatten(-1, (2, self.n_bins)).sum(-2)
        psd = 2.0 * self.scale * power.mean(-2)
        return torch.log10(psd + 1e-6)


#: Bands of the personal head's log band powers (Hz, lower edge inclusive; the last one's upper
#: edge inclusive): the same bands as the band-power + LR baseline's.
PERSONAL_BANDS: tuple[tuple[float, float], ...] = tuple(CLASSIC_BANDS.values())


class PersonalHead(nn.Module):
    """One person's read-out: logistic regression on [network logit, log band powers].

    The features of a window are the network's logit and, for each of ``n_chans`` electrodes
    (in calibration order), log10 of its absolute power in each of :data:`PERSONAL_BANDS`, summed
    from the model's own Welch spectrum; they are standardised with ``mean``/``std`` and weighed
    by ``weight`` plus ``bias`` (all fitted by :mod:`neurofb.training.personalise`).

    Parameters
    ----------
    n_chans : int
        Electrodes the person was calibrated with.
    freqs : tensor, shape (n_bins,)
        Frequencies (Hz) of the model's spectral bins.
    """

    def __init__(self, n_chans: int, freqs: torch.Tensor) -> None:
        super().__init__()
        if n_chans < 1:
            raise ValueError(f"n_chans must be >= 1, got {n_chans}")
        self.n_chans = int(n_chans)
        member = torch.zeros(len(PERSONAL_BANDS), len(freqs))
        for i, (lo, hi) in enumerate(PERSONAL_BANDS):
            last = i == len(PERSONAL_BANDS) - 1
            member[i] = ((freqs >= lo) & ((freqs <= hi) if last else (freqs < hi))).float()
        self.register_buffer("bands", member, persistent=False)
        n_feat = 1 + self.n_chans * len(PERSONAL_BANDS)
        self.register_buffer("mean", torch.zeros(n_feat))
        self.register_buffer("std", torch.ones(n_feat))
        self.weight = nn.Parameter(torch.zeros(n_feat))
        self.bias = nn.Parameter(torch.zeros(()))

    def features(self, logit: torch.Tensor, logpsd: torch.Tensor) -> torch.Tensor:
        """Raw features (batch, 1 + n_chans * n_bands): logit, then log10 µV² per band."""
        if logpsd.shape[1] != self.n_chans:
            raise ValueError(f"this personal head was calibrated on {self.n_chans} electrodes, "
                             f"got {logpsd.shape[1]}")
        power = torch.pow(10.0, logpsd) @ self.bands.to(logpsd.dtype).T  # (B, C, n_bands)
        bands = torch.log10(power + 1e-12).flatten(1)
        return torch.cat([logit.unsqueeze(-1), bands], dim=-1)

    def forward(self, logit: torch.Tensor, logpsd: torch.Tensor) -> torch.Tensor:
        """The personalised logit, shape (batch,)."""
        z = (self.features(logit, logpsd) - self.mean) / self.std
        return z @ self.weight + self.bias


class AttentionBlock(nn.Module):
    """Pre-norm transformer layer: masked multi-head self-attention, then a feed-forward MLP."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.n_heads = n_heads
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model)
        )
        self.dropout = dropout

    def forward(self, h: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        """h: (batch, n_tokens, d_model); attn_mask: (batch, 1, 1, n_tokens) bool (True = attend)
        or None (all tokens present)."""
        dh = h.shape[-1] // self.n_heads
        # unflatten/flatten and indexing rather than view(b, n, ...) and unbind: the exported
        # ONNX graph then fixes no batch or channel count, and needs no Split operator
        # (keys come transposed out of their own permute: ONNX Runtime 1.11 would fuse a
        # Transpose feeding a MatMul into a float32-only kernel)
        qkv = self.qkv(self.norm1(h)).unflatten(-1, (3, self.n_heads, dh))
        qv = qkv.permute(2, 0, 3, 1, 4)  # (3, batch, heads, tokens, dh)
        q, v = qv[0], qv[2]
        k_t = qkv.permute(2, 0, 3, 4, 1)[1]  # (batch, heads, dh, tokens)
        p = self.dropout if self.training else 0.0
        scores = (q @ k_t) * (1.0 / math.sqrt(dh))
        if attn_mask is not None:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        a = F.dropout(torch.softmax(scores, dim=-1), p, self.training) @ v
        h = h + F.dropout(self.proj(a.transpose(1, 2).flatten(2)), p, self.training)
        return h + F.dropout(self.ff(self.norm2(h)), p, self.training)


class FocusNet(nn.Module):
    """Montage-agnostic attention classifier: rest (0) vs demanding mental task (1).

    Parameters
    ----------
    n_times : int
        Samples per window at ``sfreq`` (e.g. 256 = 2 s at 128 Hz).
    sfreq : float
        Sampling rate the model works at, in Hz.
    d_model : int
        Width of the channel tokens.
    n_heads : int
        Attention heads per layer.
    n_layers : int
        Self-attention layers over the channel tokens.
    seg_s : float
        Welch segment length in seconds.
    fmin, fmax : float
        Spectral range in Hz.
    dropout : float
        Dropout probability during training.
    absolute_level : bool
        Give each token its channel's absolute mean log power (µV²/Hz). Without it the tokens
        carry only the spectral shape and the level relative to the other channels, which a
        headset's gain or electrode impedance does not change.
    personal_channels : int
        0 for a population model; for a personalised one, the number of electrodes of its
        :class:`PersonalHead` (every window must then have exactly those, all present).
    """

    def __init__(
        self,
        *,
        n_times: int = 256,
        sfreq: float = 128.0,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 2,
        seg_s: float = 1.0,
        fmin: float = 1.0,
        fmax: float = 45.0,
        dropout: float = 0.1,
        absolute_level: bool = True,
        personal_channels: int = 0,
    ) -> None:
        super().__init__()
        if n_times < round(seg_s * sfreq):
            raise ValueError(f"n_times ({n_times}) must hold at least one {seg_s} s segment")
        if not 0 < fmin < fmax <= sfreq / 2:
            raise ValueError(f"need 0 < fmin < fmax <= sfreq/2, got {fmin}, {fmax}, {sfreq}")
        if n_layers < 0 or d_model < 1 or n_heads < 1:
            raise ValueError("n_layers must be >= 0, d_model and n_heads >= 1")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if personal_channels < 0:
            raise ValueError(f"personal_channels must be >= 0, got {personal_channels}")
        self.n_times = int(n_times)
        self.sfreq = float(sfreq)
        #: The constructor arguments, as model.json records them.
        self.hparams = {
            "n_times": self.n_times, "sfreq": self.sfreq, "d_model": int(d_model),
            "n_heads": int(n_heads), "n_layers": int(n_layers), "seg_s": float(seg_s),
            "fmin": float(fmin), "fmax": float(fmax), "dropout": float(dropout),
        }
        self.absolute_level = bool(absolute_level)
        if not self.absolute_level:
            self.hparams["absolute_level"] = False
        if personal_channels:
            self.hparams["personal_channels"] = int(personal_channels)
        self.spectrum = SpectralTokens(sfreq=sfreq, seg_s=seg_s, fmin=fmin, fmax=fmax)
        n_feat = self.spectrum.n_bins + (2 if self.absolute_level else 1)
        self.n_features = n_feat
        # Standardisation of the token features, set from the training data (see training).
        self.register_buffer("feat_mean", torch.zeros(n_feat))
        self.register_buffer("feat_std", torch.ones(n_feat))
        self.embed = nn.Sequential(
            nn.Linear(n_feat, d_model), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_model, d_model)
        )
        self.pos = nn.Sequential(nn.Linear(3, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.blocks = nn.ModuleList(
            AttentionBlock(d_model, n_heads, dropout) for _ in range(n_layers)
        )
        self.pool_norm = nn.LayerNorm(d_model)
        self.query = nn.Parameter(torch.randn(d_model) / math.sqrt(d_model))
        self.pool_key = nn.Linear(d_model, d_model)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(d_model, 1))
        self.personal: PersonalHead | None = None
        if personal_channels:
            freqs = torch.fft.rfftfreq(self.spectrum.seg, d=1.0 / sfreq)[self.spectrum.bins]
            self.personal = PersonalHead(personal_channels, freqs)

    def population(self) -> FocusNet:
        """A copy of this model without its personal head (itself if it has none)."""
        if self.personal is None:
            return self
        hp = {k: v for k, v in self.hparams.items() if k != "personal_channels"}
        out = FocusNet(**hp)
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("personal.")}
        out.load_state_dict(state)
        return out.to(self.feat_mean.device, self.feat_mean.dtype).train(self.training)

    def with_personal_head(self, n_chans: int) -> FocusNet:
        """A copy of this model's population part with a new (zero) personal head."""
        base = self.population()
        out = FocusNet(**{**base.hparams, "personal_channels": int(n_chans)})
        missing, unexpected = out.load_state_dict(base.state_dict(), strict=False)
        if unexpected or not all(k.startswith("personal.") for k in missing):
            raise RuntimeError(f"state mismatch: missing {missing}, unexpected {unexpected}")
        return out.to(base.feat_mean.device, base.feat_mean.dtype).train(self.training)

    def log_spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """Welch log10 PSD of each channel, shape (batch, n_chans, n_bins), log10 µV²/Hz.

        Computed in float32 even under mixed precision (in float64 for a float64 input).
        Training computes it once per window and feeds :meth:`forward_spectrum` (augmenting
        amplitude in the log domain).
        """
        if x.ndim != 3:
            raise ValueError(f"x must be (batch, n_chans, n_times), got shape {tuple(x.shape)}")
        if x.shape[-1] < self.spectrum.seg:
            raise ValueError(
                f"x has {x.shape[-1]} samples per window; the model needs at least "
                f"{self.spectrum.seg} ({self.spectrum.seg / self.sfreq:g} s at {self.sfreq:g} Hz)"
            )
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.spectrum(x if x.dtype == torch.float64 else x.float())

    def features(self, logpsd: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Raw (unstandardised) token features, shape (batch, n_chans, n_features).

        The channel's spectral shape (n_bins: log PSD minus its mean over bins), its mean log
        power relative to the other present channels (``mask``: True where present; None: all
        are), and (with ``absolute_level``) its mean log power (log10 µV²/Hz).
        """
        level = logpsd.mean(-1, keepdim=True)
        if mask is None:
            mean_level = level.mean(1, keepdim=True)
        else:
            m = mask.unsqueeze(-1).to(level.dtype)
            mean_level = (level * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1.0)
        parts = [logpsd - level, level - mean_level]
        if self.absolute_level:
            parts.append(level)
        return torch.cat(parts, dim=-1)

    def forward(
        self, x: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Classify windows.

        Parameters
        ----------
        x : tensor, shape (batch, n_chans, n_times)
            EEG in µV at ``sfreq`` (band-passed 1–45 Hz as the engine does). Any length of at
            least one Welch segment works; the model was trained on ``n_times`` samples.
        pos : tensor, shape (batch, n_chans, 3) or (n_chans, 3)
            Electrode positions in metres (:func:`neurofb.dsp.montage.positions`).
        mask : bool tensor, shape (batch, n_chans), optional
            True where a channel is present; absent channels are ignored. Default: all present.

        Returns
        -------
        logits : tensor, shape (batch,)
            Log-odds of the task (focused) class.
        attention : tensor, shape (batch, n_chans)
            Pooling attention over channels (sums to 1, 0 on absent channels).
        """
        return self.forward_spectrum(self.log_spectrum(x), pos, mask)

    def forward_spectrum(
        self, logpsd: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Classify windows from their :meth:`log_spectrum`; arguments as :meth:`forward`."""
        if logpsd.ndim != 3 or logpsd.shape[-1] != self.spectrum.n_bins:
            raise ValueError(f"logpsd must be (batch, n_chans, {self.spectrum.n_bins}), "
                             f"got {tuple(logpsd.shape)}")
        b, c, _ = logpsd.shape
        # (n_chans, 3) positions broadcast over the batch (no expand: the exported graph must
        # not fix the batch size it was traced with)
        if pos.shape not in ((b, c, 3), (c, 3)):
            raise ValueError(f"pos must be ({b}, {c}, 3) or ({c}, 3), got {tuple(pos.shape)}")
        full = mask is None  # every channel present: no mask anywhere (nor in the ONNX graph)
        if mask is not None:
            if mask.shape != (b, c):
                raise ValueError(f"mask must be ({b}, {c}), got {tuple(mask.shape)}")
            mask = mask.bool()
            if not bool(mask.any(1).all()):
                raise ValueError("every window needs at least one present channel in mask")
        feats = (self.features(logpsd, mask) - self.feat_mean) / self.feat_std
        h = self.embed(feats) + self.pos(pos.to(feats.dtype) / POSITION_SCALE_M)
        attn_mask = None if full else mask[:, None, None, :]
        for block in self.blocks:
            h = block(h, attn_mask)
        h = self.pool_norm(h)
        scores = (self.pool_key(h) @ self.query) / math.sqrt(h.shape[-1])
        if not full:
            scores = scores.masked_fill(~mask, float("-inf"))
        # at least float32 (under mixed precision too); a float64 model stays in float64
        weights = torch.softmax(scores if scores.dtype == torch.float64 else scores.float(), -1)
        pooled = (weights.unsqueeze(-1).to(h.dtype) * h).sum(1)
        logits = self.head(pooled).squeeze(-1)
        if self.personal is not None:
            if not full and not bool(mask.all()):
                raise ValueError("a personalised model needs all of its calibration electrodes "
                                 "present in every window")
            logits = self.personal(logits, logpsd)
        return logits, weights


def build(config: dict) -> FocusNet:
    """Build a :class:`FocusNet` from the ``architecture`` section of a model.json.

    Raises
    ------
    ValueError
        When the section names another architecture or holds unknown hyper-parameters.
    """
    params = dict(config)
    name = params.pop("name", "FocusNet")
    if name != "FocusNet":
        raise ValueError(f"unknown architecture {name!r} (this neurofb knows 'FocusNet')")
    try:
        return FocusNet(**params)
    except TypeError as err:
        raise ValueError(f"bad FocusNet hyper-parameters {params}: {err}") from None
