"""Labelled windows for training and evaluation, made exactly as the live engine sees them.

A continuous recording is filtered with the engine's own causal filter
(:func:`neurofb.dsp.filters.design_filter` + :class:`neurofb.dsp.filters.StreamFilter`, from the
first sample, as a live stream is), cut into ``window_s`` windows every ``hop_s`` seconds at its
own sampling rate, and each window's features are computed by the functions the live estimator
runs: the engine's Welch spectrum (:func:`neurofb.dsp.features.band_powers`) and
:func:`neurofb.focus.features.model_features`. Nothing is resampled, so training and inference
see the same numbers by construction. A :class:`FeatureSet` keeps the features (not the
samples): 19 channels × 50 features per window.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from neurofb.config import EngineConfig
from neurofb.dsp import montage

#: Bump when the way windows are made changes, so caches are rebuilt.
WINDOWS_VERSION = 2
#: Windows whose features are computed at once (bounds memory at high sampling rates).
_BLOCK = 256


@dataclass(frozen=True)
class FeatureSet:
    """Labelled windows as the focus model's features.

    Parameters
    ----------
    X : array, shape (n_windows, n_channels, n_features), float64
        Features (:mod:`neurofb.focus.features`, log10 units). Absent channels (``mask``
        False) hold zeros.
    y : array, shape (n_windows,), int64
        0 rest, 1 task.
    subject : array, shape (n_windows,), int64
        Who the window comes from (eegmat subject number, or a recording index): one session.
    t : array, shape (n_windows,), float64
        Start of the window in seconds since the start of its recording.
    ch_names : tuple of str
        Canonical electrode names of axis 1.
    window_s : float
        Window length in seconds.
    mask : array, shape (n_windows, n_channels), bool, optional
        Which channels each window has (None: all).
    files : list of dict
        Provenance: ``{"file", "sha256", ...}`` of each source file.
    brainflow : dict of str to array, optional
        BrainFlow concentration of each window on named electrode layouts (eegmat: ``full``,
        ``cyton``, ``muse``), computed from the samples when the set was made.
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    t: np.ndarray
    ch_names: tuple[str, ...]
    window_s: float = 2.0
    mask: np.ndarray | None = None
    files: list[dict] = field(default_factory=list)
    brainflow: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.X.shape[0]
        if self.X.ndim != 3 or self.X.shape[1] != len(self.ch_names):
            raise ValueError(f"X must be (n, {len(self.ch_names)}, n_features), got "
                             f"{self.X.shape}")
        for name in ("y", "subject", "t"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got "
                                 f"{getattr(self, name).shape}")
        if self.mask is not None and self.mask.shape != self.X.shape[:2]:
            raise ValueError(f"mask must have shape {self.X.shape[:2]}, got {self.mask.shape}")
        if any(v.shape != (n,) for v in self.brainflow.values()):
            raise ValueError("brainflow scores must have one value per window")

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def subjects(self) -> list[int]:
        """The distinct subjects, sorted."""
        return sorted(int(s) for s in np.unique(self.subject))

    def full_mask(self) -> np.ndarray:
        """``mask`` with None expanded to all True, shape (n_windows, n_channels)."""
        if self.mask is None:
            return np.ones(self.X.shape[:2], dtype=bool)
        return self.mask

    def take(self, index: np.ndarray) -> FeatureSet:
        """The windows selected by a boolean mask or integer index over axis 0."""
        return replace(self, X=self.X[index], y=self.y[index], subject=self.subject[index],
                       t=self.t[index], mask=None if self.mask is None else self.mask[index],
                       brainflow={k: v[index] for k, v in self.brainflow.items()})

    def of_subjects(self, subjects: Sequence[int]) -> FeatureSet:
        """The windows of the given subjects."""
        return self.take(np.isin(self.subject, np.asarray(list(subjects), dtype=np.int64)))

    def with_features(self, X: np.ndarray) -> FeatureSet:
        """The same windows with other features of the same shape (re-centred ones)."""
        if X.shape != self.X.shape:
            raise ValueError(f"features must have shape {self.X.shape}, got {X.shape}")
        return replace(self, X=X)

    def pick(self, names: Sequence[str]) -> FeatureSet:
        """Keep only the given electrodes (any spelling), in that order.

        Raises
        ------
        neurofb.errors.ChannelError
            When a name is not an electrode of this set.
        """
        from neurofb.errors import ChannelError

        canon = [montage.normalise_name(n) for n in names]
        missing = [n for n, c in zip(names, canon, strict=True) if c not in self.ch_names]
        if missing:
            raise ChannelError(f"electrodes {missing} are not in this data (it has "
                               f"{list(self.ch_names)})")
        idx = [self.ch_names.index(c) for c in canon]
        return replace(self, X=self.X[:, idx], ch_names=tuple(canon),
                       mask=None if self.mask is None else self.mask[:, idx])

    def positions(self) -> np.ndarray:
        """Electrode positions in metres, shape (n_channels, 3)."""
        return montage.positions(self.ch_names)


def concat(sets: Sequence[FeatureSet]) -> FeatureSet:
    """Concatenate feature sets; channels become the union (absent ones masked out).

    BrainFlow scores are kept only for the layouts every set has.

    Raises
    ------
    ValueError
        When there is nothing to concatenate or the sets differ in window length or features.
    """
    if not sets:
        raise ValueError("nothing to concatenate: no windows")
    window_s, n_feat = sets[0].window_s, sets[0].X.shape[2]
    if any(s.window_s != window_s or s.X.shape[2] != n_feat for s in sets):
        raise ValueError("feature sets differ in window length or features")
    names: list[str] = []
    for s in sets:
        names += [c for c in s.ch_names if c not in names]
    common = set.intersection(*(set(s.brainflow) for s in sets))
    brainflow = {k: np.concatenate([s.brainflow[k] for s in sets]) for k in sorted(common)}
    meta = dict(y=np.concatenate([s.y for s in sets]),
                subject=np.concatenate([s.subject for s in sets]),
                t=np.concatenate([s.t for s in sets]), ch_names=tuple(names),
                window_s=window_s, files=[f for s in sets for f in s.files],
                brainflow=brainflow)
    if all(s.ch_names == tuple(names) and s.mask is None for s in sets):
        return FeatureSet(X=np.concatenate([s.X for s in sets]), **meta)
    n = sum(len(s) for s in sets)
    X = np.zeros((n, len(names), n_feat))
    mask = np.zeros((n, len(names)), dtype=bool)
    i = 0
    for s in sets:
        idx = [names.index(c) for c in s.ch_names]
        X[i:i + len(s), idx] = s.X
        mask[i:i + len(s), idx] = s.full_mask()
        i += len(s)
    return FeatureSet(X=X, mask=mask, **meta)


def filter_like_engine(data: np.ndarray, sfreq: float, config: EngineConfig) -> np.ndarray:
    """Filter a whole recording as the live engine filters its stream (causal, from sample 0).

    Parameters
    ----------
    data : array, shape (n_channels, n_samples)
        EEG in µV.
    sfreq : float
        Sampling rate in Hz.
    config : EngineConfig
        Band-pass edges and line frequency.

    Returns
    -------
    array, shape (n_channels, n_samples)
    """
    from neurofb.dsp.filters import StreamFilter, design_filter
    from neurofb.dsp.mains import detect_line_freq

    line_freq = config.line_freq
    if line_freq == "auto":  # as the live pipeline does: from the first window of raw samples
        n = max(int(config.window_s * sfreq), int(2 * sfreq))
        line_freq = config.resolve_line_freq(detect_line_freq(data[:, :n], sfreq))
    sos = design_filter(sfreq, l_freq=config.l_freq, h_freq=config.h_freq,
                        line_freq=line_freq)
    return StreamFilter(sos, data.shape[0]).process(data)


def filter_description(config: EngineConfig) -> dict:
    """How windows were filtered and turned into features, as model.json records it."""
    from neurofb.dsp import filters

    return {
        "filter": "neurofb.dsp.filters.design_filter + StreamFilter (causal, MNE-designed IIR)",
        "l_freq": config.l_freq, "h_freq": config.h_freq, "line_freq": config.line_freq,
        "bandpass_order": filters.BANDPASS_ORDER, "notch_order": filters.NOTCH_ORDER,
        "features": "at the recording's own rate: neurofb.dsp.features.band_powers (Welch, "
                    "1 s Hamming segments, 50 % overlap) then neurofb.focus.features."
                    "model_features; nothing resampled",
    }


def window_starts(n_samples: int, sfreq: float, *, window_s: float, hop_s: float,
                  start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
    """First sample of every window lying entirely inside ``[start_s, end_s)``.

    Windows start at ``start_s + k · hop_s`` (rounded to samples).
    """
    if not (window_s > 0 and hop_s > 0):
        raise ValueError(f"window_s and hop_s must be positive, got {window_s}, {hop_s}")
    n_win = round(window_s * sfreq)
    first = max(0, int(np.ceil(start_s * sfreq - 1e-9)))
    last = n_samples if end_s is None else min(n_samples, int(np.floor(end_s * sfreq + 1e-9)))
    hop = hop_s * sfreq
    starts = np.round(first + hop * np.arange(max(0, int((last - first - n_win) // hop) + 1)))
    return starts[starts + n_win <= last].astype(np.int64)


def cut_features(filtered: np.ndarray, sfreq: float, starts: np.ndarray, *, window_s: float
                 ) -> np.ndarray:
    """The focus model's features of windows of a filtered recording.

    Parameters
    ----------
    filtered : array, shape (n_channels, n_samples)
        Filtered EEG in µV at ``sfreq`` (finite).
    sfreq : float
        Its sampling rate in Hz.
    starts : array of int
        First sample of each window (:func:`window_starts`).
    window_s : float
        Window length in seconds.

    Returns
    -------
    array, shape (n_windows, n_channels, n_features), float64
    """
    from neurofb.focus.features import N_FEATURES, window_features

    n_win = round(window_s * sfreq)
    if starts.size == 0:
        return np.zeros((0, filtered.shape[0], N_FEATURES))
    view = np.lib.stride_tricks.sliding_window_view(filtered, n_win, axis=1)
    return np.concatenate([window_features(view[:, block].transpose(1, 0, 2), sfreq)
                           for block in np.array_split(starts, max(1, starts.size // _BLOCK))])


def windows_at(filtered: np.ndarray, sfreq: float, starts: np.ndarray, *, window_s: float
               ) -> np.ndarray:
    """The windows themselves (n_windows, n_channels, n_times), µV, a copy."""
    n_win = round(window_s * sfreq)
    view = np.lib.stride_tricks.sliding_window_view(filtered, n_win, axis=1)
    return np.ascontiguousarray(view[:, starts].transpose(1, 0, 2))


def save_npz(path: Path, fs: FeatureSet) -> None:
    """Write a feature set to an .npz cache file (atomically)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.npz.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, X=fs.X, y=fs.y, subject=fs.subject, t=fs.t,
                 mask=fs.full_mask(), has_mask=np.array(fs.mask is not None),
                 ch_names=np.array(fs.ch_names), window_s=np.array(fs.window_s),
                 files=np.array(json.dumps(fs.files)),
                 brainflow_keys=np.array(json.dumps(sorted(fs.brainflow))),
                 **{f"brainflow_{k}": v for k, v in fs.brainflow.items()})
    os.replace(tmp, path)


def load_npz(path: Path) -> FeatureSet:
    """Read a feature set written by :func:`save_npz` (no pickled objects)."""
    import json

    with np.load(path, allow_pickle=False) as z:
        keys = json.loads(str(z["brainflow_keys"]))
        return FeatureSet(
            X=z["X"], y=z["y"], subject=z["subject"], t=z["t"],
            ch_names=tuple(str(c) for c in z["ch_names"]), window_s=float(z["window_s"]),
            mask=z["mask"] if bool(z["has_mask"]) else None,
            files=json.loads(str(z["files"])),
            brainflow={k: z[f"brainflow_{k}"] for k in keys})
