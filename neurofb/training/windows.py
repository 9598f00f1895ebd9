"""Labelled windows for training and evaluation, cut exactly as the live engine sees them.

A continuous recording is filtered with the engine's own causal filter
(:func:`neurofb.dsp.filters.design_filter` + :class:`neurofb.dsp.filters.StreamFilter`, from the
first sample, as a live stream would be), cut into ``window_s`` windows every ``hop_s`` seconds at
its own sampling rate, and each window is resampled to the model's rate with
:func:`neurofb.focus.neural.resample_windows` — the code the live estimator runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from neurofb.config import EngineConfig
from neurofb.dsp import montage
from neurofb.focus.neural import resample_windows

#: Bump when the way windows are made changes, so caches are rebuilt.
WINDOWS_VERSION = 1


@dataclass(frozen=True)
class WindowSet:
    """Labelled windows of EEG at the model's rate.

    Parameters
    ----------
    X : array, shape (n_windows, n_channels, n_times), float32
        Filtered EEG in µV at ``sfreq``. Absent channels (``mask`` False) hold zeros.
    y : array, shape (n_windows,), int64
        0 rest, 1 task.
    subject : array, shape (n_windows,), int64
        Who the window comes from (eegmat subject number, or a recording index).
    t : array, shape (n_windows,), float64
        Start of the window in seconds since the start of its recording.
    ch_names : tuple of str
        Canonical electrode names of axis 1.
    sfreq : float
        Sampling rate of ``X`` in Hz.
    mask : array, shape (n_windows, n_channels), bool, optional
        Which channels each window has (None: all).
    files : list of dict
        Provenance: ``{"file", "sha256", ...}`` of each source file.
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    t: np.ndarray
    ch_names: tuple[str, ...]
    sfreq: float
    mask: np.ndarray | None = None
    files: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.X.shape[0]
        if self.X.ndim != 3 or self.X.shape[1] != len(self.ch_names):
            raise ValueError(f"X must be (n, {len(self.ch_names)}, n_times), got {self.X.shape}")
        for name in ("y", "subject", "t"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got "
                                 f"{getattr(self, name).shape}")
        if self.mask is not None and self.mask.shape != self.X.shape[:2]:
            raise ValueError(f"mask must have shape {self.X.shape[:2]}, got {self.mask.shape}")

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

    def take(self, index: np.ndarray) -> WindowSet:
        """The windows selected by a boolean mask or integer index over axis 0."""
        return replace(self, X=self.X[index], y=self.y[index], subject=self.subject[index],
                       t=self.t[index], mask=None if self.mask is None else self.mask[index])

    def of_subjects(self, subjects: Sequence[int]) -> WindowSet:
        """The windows of the given subjects."""
        return self.take(np.isin(self.subject, np.asarray(list(subjects), dtype=np.int64)))

    def pick(self, names: Sequence[str]) -> WindowSet:
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


def concat(sets: Sequence[WindowSet]) -> WindowSet:
    """Concatenate window sets; channels become the union (absent ones masked out).

    Raises
    ------
    ValueError
        When the sets are empty or have different sampling rates or window lengths.
    """
    if not sets:
        raise ValueError("nothing to concatenate: no windows")
    sfreq = sets[0].sfreq
    n_times = sets[0].X.shape[2]
    if any(s.sfreq != sfreq or s.X.shape[2] != n_times for s in sets):
        raise ValueError("window sets differ in sampling rate or window length")
    names: list[str] = []
    for s in sets:
        names += [c for c in s.ch_names if c not in names]
    if all(s.ch_names == tuple(names) for s in sets) and all(s.mask is None for s in sets):
        return WindowSet(
            X=np.concatenate([s.X for s in sets]), y=np.concatenate([s.y for s in sets]),
            subject=np.concatenate([s.subject for s in sets]),
            t=np.concatenate([s.t for s in sets]), ch_names=tuple(names), sfreq=sfreq,
            files=[f for s in sets for f in s.files])
    n = sum(len(s) for s in sets)
    X = np.zeros((n, len(names), n_times), dtype=np.float32)
    mask = np.zeros((n, len(names)), dtype=bool)
    i = 0
    for s in sets:
        idx = [names.index(c) for c in s.ch_names]
        X[i:i + len(s), idx] = s.X
        mask[i:i + len(s), idx] = s.full_mask()
        i += len(s)
    return WindowSet(
        X=X, y=np.concatenate([s.y for s in sets]),
        subject=np.concatenate([s.subject for s in sets]),
        t=np.concatenate([s.t for s in sets]), ch_names=tuple(names), sfreq=sfreq, mask=mask,
        files=[f for s in sets for f in s.files])


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
    """How windows were filtered, as model.json records it."""
    from neurofb.dsp import filters

    return {
        "filter": "neurofb.dsp.filters.design_filter + StreamFilter (causal, MNE-designed IIR)",
        "l_freq": config.l_freq, "h_freq": config.h_freq, "line_freq": config.line_freq,
        "bandpass_order": filters.BANDPASS_ORDER, "notch_order": filters.NOTCH_ORDER,
        "resample": "scipy.signal.resample_poly per window (neurofb.focus.neural)",
    }


def cut_windows(filtered: np.ndarray, sfreq: float, *, window_s: float, hop_s: float,
                model_sfreq: float, start_s: float = 0.0, end_s: float | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
    """Cut windows from a filtered recording and resample them to the model's rate.

    Parameters
    ----------
    filtered : array, shape (n_channels, n_samples)
        Filtered EEG in µV at ``sfreq``.
    sfreq : float
        Its sampling rate in Hz.
    window_s, hop_s : float
        Window length and step in seconds.
    model_sfreq : float
        The model's sampling rate in Hz.
    start_s, end_s : float
        Only windows entirely inside ``[start_s, end_s)`` (seconds) are cut.

    Returns
    -------
    X : array, shape (n_windows, n_channels, n_times_model), float32
    t : array, shape (n_windows,)
        Start time of each window in seconds.
    """
    if not (window_s > 0 and hop_s > 0):
        raise ValueError(f"window_s and hop_s must be positive, got {window_s}, {hop_s}")
    n_win = round(window_s * sfreq)
    n_total = filtered.shape[1]
    first = max(0, int(np.ceil(start_s * sfreq - 1e-9)))
    last = n_total if end_s is None else min(n_total, int(np.floor(end_s * sfreq + 1e-9)))
    hop = hop_s * sfreq
    starts = np.round(first + hop * np.arange(max(0, int((last - first - n_win) // hop) + 1)))
    starts = starts[starts + n_win <= last].astype(np.int64)
    n_out = round(window_s * model_sfreq)
    if starts.size == 0:
        return np.zeros((0, filtered.shape[0], n_out), np.float32), np.zeros(0)
    view = np.lib.stride_tricks.sliding_window_view(filtered, n_win, axis=1)
    out = []
    for block in np.array_split(starts, max(1, starts.size // 256)):
        out.append(resample_windows(view[:, block].transpose(1, 0, 2), sfreq, model_sfreq))
    return np.concatenate(out)[..., :n_out], starts / sfreq


def save_npz(path: Path, ws: WindowSet) -> None:
    """Write a window set to an .npz cache file (atomically)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.npz.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, X=ws.X, y=ws.y, subject=ws.subject, t=ws.t,
                 mask=ws.full_mask(), has_mask=np.array(ws.mask is not None),
                 ch_names=np.array(ws.ch_names), sfreq=np.array(ws.sfreq),
                 files=np.array(json.dumps(ws.files)))
    os.replace(tmp, path)


def load_npz(path: Path) -> WindowSet:
    """Read a window set written by :func:`save_npz` (no pickled objects)."""
    import json

    with np.load(path, allow_pickle=False) as z:
        return WindowSet(
            X=z["X"], y=z["y"], subject=z["subject"], t=z["t"],
            ch_names=tuple(str(c) for c in z["ch_names"]), sfreq=float(z["sfreq"]),
            mask=z["mask"] if bool(z["has_mask"]) else None,
            files=json.loads(str(z["files"])))
