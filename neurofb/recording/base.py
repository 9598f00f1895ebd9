"""The recording record and the layout of a neurofb recording folder.

A recording is a folder (layout documented in ``docs/recording-format.md``)::

    meta.json       format, board, channels, sampling rate, unit, dtype, model, software, user,
                    start time; on close: end time, n_samples, summary (written atomically)
    eeg.bin         append-only little-endian rows [timestamp, ch1 .. chN] (float64 or float32)
    markers.jsonl   append-only JSON lines {"t", "kind", "label", "value"}
    trace.csv       the focus trace (columns of :data:`neurofb.recording.trace.COLUMNS`)
    .open           present while the recording is being written (pid, host, start; the
                    writer holds an exclusive lock on it)

:class:`Recording` is what every reader returns, for folders and for files (EDF/BDF/FIF/CSV).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurofb.types import Marker, SourceInfo

__all__ = [
    "DTYPES", "EEG", "FORMAT", "FORMAT_VERSION", "MARKERS", "META", "OPEN", "TRACE", "Recording",
    "portable_meta",
]  # fmt: skip

FORMAT = "neurofb-recording"
FORMAT_VERSION = 1
META, EEG, MARKERS, TRACE, OPEN = "meta.json", "eeg.bin", "markers.jsonl", "trace.csv", ".open"
#: Sample dtypes a recording may use (meta.json ``dtype``) and their on-disk layout.
DTYPES: dict[str, str] = {"float64": "<f8", "float32": "<f4"}


@dataclass(frozen=True)
class Recording:
    """A recording read back into memory.

    Parameters
    ----------
    info : SourceInfo
        Channels, sampling rate and board of the recording (unit µV).
    meta : dict
        The recording's metadata (meta.json for neurofb folders, header fields for files).
    data : array, shape (n_channels, n_samples)
        EEG in µV, float64.
    timestamps : array, shape (n_samples,)
        Time of each sample in seconds (board clock; Unix epoch for live boards).
    markers : list of Marker
        Session events, ``t`` in seconds since the start of the recording.
    trace : list of dict
        Focus trace rows (strings keyed by :data:`neurofb.recording.trace.COLUMNS`), empty if none.
    path : Path or None
        Where the recording was read from.
    warnings : list of str
        What was repaired while reading (a truncated last row dropped, bad marker lines skipped).
    """

    info: SourceInfo
    meta: dict
    data: np.ndarray
    timestamps: np.ndarray
    markers: list[Marker] = field(default_factory=list)
    trace: list[dict[str, str]] = field(default_factory=list)
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.data.ndim != 2 or self.data.shape[0] != len(self.info.ch_names):
            raise ValueError(
                f"Recording.data must have shape ({len(self.info.ch_names)}, n_samples), "
                f"got {self.data.shape}"
            )
        if self.timestamps.shape != (self.data.shape[1],):
            raise ValueError(
                f"Recording.timestamps must have shape ({self.data.shape[1]},), "
                f"got {self.timestamps.shape}"
            )

    @property
    def n_samples(self) -> int:
        """Number of samples per channel."""
        return int(self.data.shape[1])

    @property
    def sfreq(self) -> float:
        """Sampling rate in Hz."""
        return float(self.info.sfreq)

    @property
    def ch_names(self) -> tuple[str, ...]:
        """Channel names."""
        return tuple(self.info.ch_names)

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds (``n_samples / sfreq``)."""
        return self.n_samples / self.sfreq


#: meta.json keys that travel with a recording exported to a file (EDF/FIF header, CSV sidecar).
PORTABLE_KEYS = ("user", "exercise", "model", "model_hash", "start_time", "start_unix", "board")


def portable_meta(meta: dict) -> dict:
    """The part of a recording's metadata that is carried into exported files.

    Parameters
    ----------
    meta : dict
        The recording's metadata (meta.json).

    Returns
    -------
    dict
        The :data:`PORTABLE_KEYS` that hold a string or a number.
    """
    return {k: meta[k] for k in PORTABLE_KEYS if isinstance(meta.get(k), str | int | float)}
