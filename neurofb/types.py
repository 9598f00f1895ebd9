"""The small immutable records that move forward through the engine.

Units at this boundary: EEG samples in microvolts (µV), times in seconds, frequencies in Hz.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from neurofb.config import MAX_SFREQ as MAX_SFREQ  # re-exported: its numpy-free home


@dataclass(frozen=True)
class Chunk:
    """A block of consecutive samples from a source.

    Parameters
    ----------
    data : array, shape (n_channels, n_samples)
        EEG samples in ``unit`` (µV unless stated), float64.
    timestamps : array, shape (n_samples,)
        Acquisition time of each sample in seconds (board clock, Unix epoch for live boards,
        recording time for replays).
    ch_names : tuple of str
        Channel names, 10-20 labels where the board has them.
    sfreq : float
        Sampling rate in Hz.
    first_sample : int
        Index of the first sample of this chunk since the source started (0-based).
    board : str
        Name of the board or source that produced the chunk.
    unit : str
        Unit of ``data``.
    """

    data: np.ndarray
    timestamps: np.ndarray
    ch_names: tuple[str, ...]
    sfreq: float
    first_sample: int = 0
    board: str = ""
    unit: str = "uV"

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"Chunk.data must be 2-D (n_channels, n_times), got {self.data.shape}")
        if self.data.shape[0] != len(self.ch_names):
            raise ValueError(
                f"Chunk has {self.data.shape[0]} channels of data but {len(self.ch_names)} names"
            )
        if self.timestamps.shape != (self.data.shape[1],):
            raise ValueError(
                f"Chunk.timestamps must have shape ({self.data.shape[1]},), "
                f"got {self.timestamps.shape}"
            )
        if not self.sfreq > 0:
            raise ValueError(f"Chunk.sfreq must be positive, got {self.sfreq}")

    @property
    def n_samples(self) -> int:
        """Number of samples in the chunk."""
        return int(self.data.shape[1])


@dataclass(frozen=True)
class SourceInfo:
    """What a source delivers, known before the first chunk arrives.

    Parameters
    ----------
    ch_names : tuple of str
        Channel names, 10-20 labels where the source has them.
    sfreq : float
        Sampling rate in Hz.
    board : str
        Name of the board or source (``"synthetic"``, ``"cyton"``, the recording's board).
    unit : str
        Unit of the samples (always ``"uV"`` inside the engine).
    live : bool
        True for a device streaming now; False for a replay (the pipeline then reports the
        processing time per window as latency, and shares the work with a second core).
    simulated : bool
        True for a test signal that is not EEG (BrainFlow's synthetic board, or a file of it
        played back): by default the pipeline gates only non-finite samples on it, so the chain
        can be tried without a headset.
    replayed : bool
        True for samples recorded earlier and played back at their pace (BrainFlow's playback
        board): it streams like a headset (``live``) but is not a person's EEG of now, so a
        calibration on it fits no one.
    details : mapping
        Descriptive facts about the source (BrainFlow board id, connection, replayed file…),
        written to a recording's ``meta.json`` as ``source``; the engine never reads them to
        decide anything.
    """

    ch_names: tuple[str, ...]
    sfreq: float
    board: str
    unit: str = "uV"
    live: bool = True
    simulated: bool = False
    replayed: bool = False
    details: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sfreq > 0:
            raise ValueError(f"SourceInfo.sfreq must be positive, got {self.sfreq}")


@dataclass(frozen=True)
class Features:
    """Band powers of a batch of windows.

    Parameters
    ----------
    ch_names : tuple of str
        Channel names, in the order of axis 1.
    bands : tuple of str
        Band names, in the order of axis 2 (see :data:`neurofb.dsp.features.BANDS`).
    abs_power : array, shape (n_windows, n_channels, n_bands)
        Absolute band power in µV².
    rel_power : array, shape (n_windows, n_channels, n_bands)
        Band power relative to the total 1–45 Hz power (sums to ≤ 1 over bands).
    theta_beta : array, shape (n_windows,)
        Theta/beta power ratio, averaged over channels.
    engagement : array, shape (n_windows,)
        Engagement index β / (α + θ), averaged over channels.
    psd : array, shape (n_windows, n_channels, n_freqs), optional
        The Welch power spectral density the band powers come from, in µV²/Hz.
    freqs : array, shape (n_freqs,), optional
        Its frequencies in Hz (1 s segments: 1 Hz apart, from 0 up to the top band edge).
    """

    ch_names: tuple[str, ...]
    bands: tuple[str, ...]
    abs_power: np.ndarray
    rel_power: np.ndarray
    theta_beta: np.ndarray
    engagement: np.ndarray
    psd: np.ndarray | None = None
    freqs: np.ndarray | None = None


@dataclass(frozen=True)
class Update:
    """One output of the pipeline, emitted every hop.

    ``focus`` is ``None`` when the window was gated out (bad signal, warming up); ``reason``
    then says why. ``t`` is the time in seconds since the stream started of the newest sample
    in the window; ``latency_s`` is the age of that sample when the update was emitted.
    ``mode`` is the attention model's operating mode for the window (``"cold"``, ``"rest"``
    while a baseline is taken, ``"baseline"``, ``"baseline-failed"``); empty for a gated
    window or an estimator without modes.
    """

    t: float
    focus: float | None
    raw_focus: float | None
    quality: float
    reason: str
    channel_quality: tuple[float, ...]
    channel_reasons: tuple[str, ...]
    attention: tuple[float, ...] | None
    rel_power: tuple[tuple[float, ...], ...]
    latency_s: float
    sample_index: int
    mode: str = ""


@dataclass(frozen=True)
class Marker:
    """An event in a session: block starts/ends, labels, rewards, threshold changes, notes.

    ``t`` is seconds since the stream started; ``kind`` is a short machine name (``"block_start"``,
    ``"label"``, ``"reward"``, ``"threshold"``, ``"note"``, ...); ``label`` and ``value`` carry
    the details.
    """

    t: float
    kind: str
    label: str = ""
    value: float | None = None
