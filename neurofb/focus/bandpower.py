"""Transparent band-power feedback targets, each normalised to the user's baseline.

A target is one number per window, computed from the band powers of chosen channels:

- ``engagement``: β / (α + θ), up (Pope et al. 1995);
- ``tbr``: θ / β, down (the classic ADHD protocol; the value is inverted so that up is good);
- ``smr``: relative SMR (12–15 Hz) power, up;
- ``alpha``: relative alpha (8–13 Hz) power, up;
- ``band:EXPR[@CH,CH...][:down]``: any band or ratio of band sums on chosen channels, e.g.
  ``band:beta/theta@Fz,Cz``, ``band:beta/alpha+theta``, ``band:theta/beta@Cz:down``,
  ``band:alpha@O1,O2``. A single band is its relative power, a ratio uses absolute powers.

Ratios are computed per channel and averaged over the chosen channels. The log of the value
(negated for ``down`` targets) is compared with the user's baseline — the windows of the first
``baseline_s`` seconds — as a z-score, and focus is ``sigmoid(z)``: 0.5 means "as at baseline".
Windows inside the baseline are scored against the baseline so far (a weak prior keeps the first
few from saturating). The explanation is each channel's share of the target value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neurofb.dsp.features import BANDS
from neurofb.dsp.montage import label_key
from neurofb.errors import ChannelError, ModelError
from neurofb.focus.base import FocusBatch
from neurofb.types import Features

#: Prior standard deviation of the log target (natural log units) and its weight in windows.
PRIOR_STD = 0.3
PRIOR_WINDOWS = 2.0
#: Hop assumed when the pipeline does not say (EngineConfig's default).
DEFAULT_HOP_S = 0.25
_TINY = 1e-12


@dataclass(frozen=True)
class TargetDef:
    """What a band-power target computes.

    Parameters
    ----------
    numerator : tuple of str
        Bands summed in the numerator.
    denominator : tuple of str
        Bands summed in the denominator; empty for a relative power.
    channels : tuple of str or None
        Channels averaged over; ``None`` for all of the stream's channels.
    down : bool
        True when a lower value is better (the score is inverted).
    """

    numerator: tuple[str, ...]
    denominator: tuple[str, ...] = ()
    channels: tuple[str, ...] | None = None
    down: bool = False

    def describe(self) -> str:
        """A short human description, e.g. ``"beta/(alpha+theta) on all channels, up"``."""
        num = "+".join(self.numerator)
        if self.denominator:
            den = "+".join(self.denominator)
            expr = f"{num}/({den})" if len(self.denominator) > 1 else f"{num}/{den}"
        else:
            expr = f"relative {num} power"
        where = ", ".join(self.channels) if self.channels else "all channels"
        return f"{expr} on {where}, {'down' if self.down else 'up'}"


PRESETS: dict[str, TargetDef] = {
    "engagement": TargetDef(("beta",), ("alpha", "theta")),
    "tbr": TargetDef(("theta",), ("beta",), down=True),
    "smr": TargetDef(("smr",)),
    "alpha": TargetDef(("alpha",)),
}


def _bands(expr: str, spec: str) -> tuple[str, ...]:
    names = tuple(b.strip().lower() for b in expr.strip("() ").split("+"))
    unknown = [b for b in names if b not in BANDS]
    if unknown or not all(names):
        raise ModelError(
            f"unknown band {unknown[0] if unknown else '(empty)'!r} in target {spec!r}; "
            f"bands: {', '.join(BANDS)}"
        )
    return names


def parse_target(spec: str) -> TargetDef:
    """Parse a target name or ``band:EXPR[@CH,CH...][:down|:up]`` into a :class:`TargetDef`.

    Raises
    ------
    neurofb.errors.ModelError
        When the name or expression is not understood.
    """
    text = spec.strip()
    if text.lower() in PRESETS:
        return PRESETS[text.lower()]
    if not text.lower().startswith("band:"):
        raise ModelError(
            f"unknown band-power target {spec!r}; choose {', '.join(PRESETS)} or "
            "band:EXPR[@CH,...][:down] (e.g. band:beta/theta@Fz,Cz)"
        )
    body = text[5:]
    down = False
    for suffix, is_down in ((":down", True), (":up", False)):
        if body.lower().endswith(suffix):
            body, down = body[: -len(suffix)], is_down
    expr, at, chans = body.partition("@")
    channels = tuple(c.strip() for c in chans.split(",") if c.strip()) if at else None
    if at and not channels:
        raise ModelError(f"no channels after '@' in target {spec!r}")
    num, slash, den = expr.partition("/")
    if not num.strip():
        raise ModelError(f"empty band expression in target {spec!r}")
    return TargetDef(
        numerator=_bands(num, spec),
        denominator=_bands(den, spec) if slash else (),
        channels=channels,
        down=down,
    )


def resolve_channels(wanted: Sequence[str] | None, ch_names: Sequence[str]) -> np.ndarray:
    """Indices of ``wanted`` channels in ``ch_names`` (case-insensitive, 10-20 aliases).

    Raises
    ------
    neurofb.errors.ChannelError
        When a channel is not in the stream or the stream has no channels.
    """
    if not ch_names:
        raise ChannelError("the stream has no EEG channels; a band-power target needs at least 1")
    if wanted is None:
        return np.arange(len(ch_names))
    lookup = {label_key(n): i for i, n in enumerate(ch_names)}
    missing = [w for w in wanted if label_key(w) not in lookup]
    if missing:
        raise ChannelError(
            f"channel(s) {', '.join(missing)} not in this stream; valid names: "
            f"{', '.join(ch_names)}"
        )
    return np.array(sorted({lookup[label_key(w)] for w in wanted}))


class BandPowerEstimator:
    """A band-power target as an :class:`~neurofb.focus.base.Estimator`.

    Parameters
    ----------
    kind : str or TargetDef
        ``"engagement"``, ``"tbr"``, ``"smr"``, ``"alpha"``, ``"band:…"`` (see module doc) or a
        :class:`TargetDef`.
    channels : list of str, optional
        Channels to average over (overrides the ones in ``kind``); default all.
    baseline_s : float
        Seconds of signal (windows) that define the user's baseline.
    """

    def __init__(
        self,
        kind: str | TargetDef = "engagement",
        *,
        channels: Sequence[str] | None = None,
        baseline_s: float = 10.0,
    ) -> None:
        target = parse_target(kind) if isinstance(kind, str) else kind
        if channels is not None:
            target = TargetDef(target.numerator, target.denominator, tuple(channels), target.down)
        if not baseline_s >= 0:
            raise ValueError(f"baseline_s must be >= 0, got {baseline_s}")
        self.target = target
        self.baseline_s = float(baseline_s)
        self.name = kind if isinstance(kind, str) and channels is None else _spec_of(target)

    def bind(
        self, ch_names: Sequence[str], sfreq: float, *, hop_s: float | None = None
    ) -> BoundBandPower:
        """Check the channels and sampling rate fit; return a bound estimator.

        Parameters
        ----------
        ch_names : sequence of str
            The stream's channel names.
        sfreq : float
            Sampling rate in Hz.
        hop_s : float, optional
            Time between consecutive windows in seconds (sets how many windows make the
            baseline); default 0.25 s.
        """
        idx = resolve_channels(self.target.channels, ch_names)
        top = max(BANDS[b][1] for b in self.target.numerator + self.target.denominator)
        if not sfreq / 2 > top:
            raise ModelError(
                f"target {self.name!r} needs power up to {top:g} Hz, above Nyquist at "
                f"{sfreq:g} Hz; choose a target on lower bands"
            )
        hop = DEFAULT_HOP_S if hop_s is None else float(hop_s)
        if not hop > 0:
            raise ValueError(f"hop_s must be positive, got {hop_s}")
        n_baseline = max(1, math.ceil(self.baseline_s / hop - 1e-9))
        return BoundBandPower(self.target, tuple(ch_names), float(sfreq), idx, n_baseline)


def _spec_of(target: TargetDef) -> str:
    expr = "+".join(target.numerator)
    if target.denominator:
        expr += "/" + "+".join(target.denominator)
    if target.channels:
        expr += "@" + ",".join(target.channels)
    return f"band:{expr}{':down' if target.down else ''}"


class BoundBandPower:
    """A band-power target bound to a stream; holds the baseline statistics."""

    def __init__(
        self,
        target: TargetDef,
        ch_names: tuple[str, ...],
        sfreq: float,
        channel_idx: np.ndarray,
        n_baseline: int,
    ) -> None:
        self.target = target
        self.ch_names = ch_names
        self.sfreq = sfreq
        self.channel_idx = channel_idx
        self.n_baseline = n_baseline
        self.reset()

    def reset(self) -> None:
        """Forget the baseline."""
        self._count = 0
        self._mean = 0.0
        self._m2 = 0.0

    @property
    def baseline(self) -> tuple[float, float, int]:
        """Current baseline ``(mean, std, n_windows)`` of the log target."""
        return self._mean, self._std(), self._count

    def _std(self) -> float:
        var = (self._m2 + PRIOR_STD**2 * PRIOR_WINDOWS) / (max(self._count - 1, 0) + PRIOR_WINDOWS)
        return math.sqrt(var)

    def values(self, features: Features) -> np.ndarray:
        """Per-channel target value of each window, shape (n_windows, n_channels_used)."""
        bands = {b: i for i, b in enumerate(features.bands)}
        t = self.target
        every = self.channel_idx.size == len(self.ch_names)
        source = features.abs_power if t.denominator else features.rel_power
        power = source if every else source[:, self.channel_idx]

        def band_sum(names: tuple[str, ...]) -> np.ndarray:
            total = power[..., bands[names[0]]]
            for name in names[1:]:
                total = total + power[..., bands[name]]
            return total

        if t.denominator:
            return band_sum(t.numerator) / np.maximum(band_sum(t.denominator), _TINY)
        return band_sum(t.numerator)

    def predict(self, windows: np.ndarray, features: Features, *,
                t_end: np.ndarray | None = None, usable: np.ndarray | None = None
                ) -> FocusBatch:
        """Focus of consecutive windows against the baseline; updates the baseline in order.

        Parameters
        ----------
        windows : array, shape (n_windows, n_channels, n_times)
            Filtered EEG in µV (only its length is used).
        features : Features
            Band powers of the same windows.
        t_end : array, optional
            Window end times (unused: the baseline is the first windows scored).
        usable : array of bool, shape (n_windows, n_channels), optional
            The channels each window may use (default all): the target is the mean over the
            usable ones; a window with none has no value (NaN) and leaves the baseline alone.
        """
        # Contiguous rows: numpy then reduces each window's row the same way whatever the batch.
        per_channel = np.ascontiguousarray(self.values(features))
        n_win = per_channel.shape[0]
        if windows.shape[0] != n_win:
            raise ValueError(f"{windows.shape[0]} windows but features of {n_win}")
        keep = None
        if usable is not None:
            keep = np.asarray(usable, dtype=bool)[:, self.channel_idx]
            if keep.all():
                keep = None
            else:  # left-out channels count for nothing (a window's own row: batch-invariant)
                per_channel = np.ascontiguousarray(np.where(keep, per_channel, 0.0))
        n_used = (np.full(n_win, per_channel.shape[1]) if keep is None
                  else np.add.reduce(keep, axis=-1))
        value = np.maximum(np.add.reduce(per_channel, axis=-1) / np.maximum(n_used, 1), _TINY)
        sign = -1.0 if self.target.down else 1.0
        focus = np.empty(n_win)
        # Scalar math per window: the result of a window never depends on the batch it came in
        # (numpy's SIMD log/exp may round differently by position in an array).
        for i, (v, n) in enumerate(zip(value.tolist(), n_used.tolist(), strict=True)):
            if not n:
                focus[i] = math.nan
                continue
            score = sign * math.log(v)
            if self._count < self.n_baseline:  # windows inside the baseline update it
                self._count += 1
                delta = score - self._mean
                self._mean += delta / self._count
                self._m2 += delta * (score - self._mean)
            z = (score - self._mean) / self._std()
            focus[i] = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
        total = np.add.reduce(per_channel, axis=-1, keepdims=True)
        share = per_channel / np.maximum(total, _TINY)
        if (total <= _TINY).any():  # no power at all: equal shares of the usable channels
            flat = (total <= _TINY)[:, 0]
            even = (np.ones(per_channel.shape) if keep is None else keep.astype(float))
            share[flat] = even[flat] / np.maximum(n_used[flat, None], 1)
        if self.channel_idx.size == len(self.ch_names):
            return FocusBatch(focus=focus, explanation=share)
        explanation = np.zeros((n_win, len(self.ch_names)))
        explanation[:, self.channel_idx] = share
        return FocusBatch(focus=focus, explanation=explanation)
