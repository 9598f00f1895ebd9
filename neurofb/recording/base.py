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
Readers do not load the samples: ``Recording.data`` and ``Recording.timestamps`` are
:class:`TimeSeries`, array-likes that read from disk only the samples asked for, so a replay or
an import of an 8-hour file runs in the memory of a 10-minute one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from neurofb.types import Marker, SourceInfo

__all__ = [
    "DTYPES", "EEG", "FORMAT", "FORMAT_VERSION", "MARKERS", "META", "OPEN", "TRACE", "Recording",
    "TimeSeries", "portable_meta", "recorded_simulation",
]  # fmt: skip

FORMAT = "neurofb-recording"
FORMAT_VERSION = 1
META, EEG, MARKERS, TRACE, OPEN = "meta.json", "eeg.bin", "markers.jsonl", "trace.csv", ".open"
#: Sample dtypes a recording may use (meta.json ``dtype``) and their on-disk layout.
DTYPES: dict[str, str] = {"float64": "<f8", "float32": "<f4"}


class TimeSeries(NDArrayOperatorsMixin):
    """Samples on disk as a read-only array-like whose last axis is time; read on demand.

    ``Recording.data`` (shape ``(n_channels, n_samples)``) and ``Recording.timestamps``
    (``(n_samples,)``) are TimeSeries when a reader made them: indexing (``x[:, a:b]``,
    ``x[-1]``, ``x[..., idx]``) reads only the samples asked for and returns a float64 numpy
    array; :meth:`read` reads a span of samples; ``np.asarray(x)`` and numpy arithmetic read
    everything (exports do; a replay or an import reads a chunk at a time).

    Parameters
    ----------
    read : callable
        ``read(start, stop)`` returns the samples ``start:stop`` (``0 <= start <= stop <=
        n_samples``) as an array of shape ``shape[:-1] + (stop - start,)``. May raise
        :class:`~neurofb.errors.RecordingError` (a file that changed on disk).
    shape : tuple of int
        The full shape; the last entry is the number of samples.
    keep : object, optional
        Kept alive as long as this object (an open file, a temporary folder).
    """

    def __init__(
        self, read: Callable[[int, int], np.ndarray], shape: tuple[int, ...], *, keep: Any = None
    ) -> None:
        if not shape or any(int(n) < 0 for n in shape):
            raise ValueError(f"TimeSeries shape must be non-empty and >= 0, got {shape}")
        self._read = read
        self.shape = tuple(int(n) for n in shape)
        self._keep = keep

    dtype = np.dtype(np.float64)

    @property
    def ndim(self) -> int:
        """Number of axes (1 for timestamps, 2 for data)."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of values."""
        return int(np.prod(self.shape))

    @property
    def n_samples(self) -> int:
        """Length of the time axis."""
        return self.shape[-1]

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Return samples ``start:stop`` (clipped to the recording) as a float64 array."""
        start = min(max(int(start), 0), self.n_samples)
        stop = min(max(int(stop), start), self.n_samples)
        if stop == start:
            return np.empty((*self.shape[:-1], 0))
        out = np.asarray(self._read(start, stop), dtype=np.float64)
        if out.shape != (*self.shape[:-1], stop - start):
            raise ValueError(f"TimeSeries reader returned shape {out.shape} for samples "
                             f"{start}:{stop} of {self.shape}")
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            fill = (slice(None),) * (self.ndim - len(key) + 1)
            key = key[:i] + fill + key[i + 1 :]
        if len(key) > self.ndim:
            raise IndexError(f"too many indices for a {self.ndim}-d TimeSeries")
        key = key + (slice(None),) * (self.ndim - len(key))
        lead, t = key[:-1], key[-1]
        n = self.n_samples
        if isinstance(t, slice):
            start, stop, step = t.indices(n)
            if step > 0:
                block = self.read(start, stop)[..., ::step] if stop > start else self.read(0, 0)
            else:
                idx = np.arange(start, stop, step)
                block = self._take(idx)
        elif isinstance(t, int | np.integer):
            i = int(t) + n if int(t) < 0 else int(t)
            if not 0 <= i < n:
                raise IndexError(f"index {int(t)} is out of bounds for {n} samples")
            block = self.read(i, i + 1)[..., 0]
        else:
            idx = np.arange(n)[np.asarray(t)]
            block = self._take(idx)
        return block[lead] if lead else block

    def _take(self, idx: np.ndarray) -> np.ndarray:
        if idx.size == 0:
            return np.empty((*self.shape[:-1], *idx.shape))
        lo, hi = int(idx.min()), int(idx.max()) + 1
        return self.read(lo, hi)[..., idx - lo]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = self.read(0, self.n_samples)
        return full if dtype is None else full.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        args = [np.asarray(x) if isinstance(x, TimeSeries) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(np.asarray(x) if isinstance(x, TimeSeries) else x
                                  for x in kwargs["out"])
        return getattr(ufunc, method)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"TimeSeries(shape={self.shape}, read on demand)"


class CachedRows:
    """Remembers the last block a reader read, so data and timestamps of the same span (read
    one after the other by a replay) cost one read. Thread-safe."""

    def __init__(self, read: Callable[[int, int], np.ndarray]) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._last: tuple[int, int, np.ndarray] | None = None

    def __call__(self, start: int, stop: int) -> np.ndarray:
        with self._lock:
            last = self._last
            if last is not None and last[0] <= start and stop <= last[1]:
                return last[2][start - last[0] : stop - last[0]]
            rows = self._read(start, stop)
            self._last = (start, stop, rows)
            return rows


@dataclass(frozen=True)
class Recording:
    """A recording read back into memory.

    Parameters
    ----------
    info : SourceInfo
        Channels, sampling rate and board of the recording (unit µV).
    meta : dict
        The recording's metadata (meta.json for neurofb folders, header fields for files).
    data : array or TimeSeries, shape (n_channels, n_samples)
        EEG in µV, float64; non-finite samples (a dropped burst) are NaN. Readers return a
        :class:`TimeSeries` (read on demand: slice it, or ``np.asarray`` it to load it all).
    timestamps : array or TimeSeries, shape (n_samples,)
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
    data: np.ndarray | TimeSeries
    timestamps: np.ndarray | TimeSeries
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
PORTABLE_KEYS = ("user", "exercise", "model", "model_hash", "target", "start_time", "start_unix",
                 "board", "notes",  # the user's notes on the session
                 # where the data came from and its terms (the demo's ODC-By credit)
                 "description", "attribution", "licence")


def recorded_simulation(recording: Any) -> bool:
    """Whether a recording holds BrainFlow's synthetic board's sines, not EEG: recorded from
    the synthetic board, or from a playback of a file of it (its ``source`` says the board or
    the master board was the synthetic board, id -1). The engine gates it as it did live.
    """
    info = getattr(recording, "info", None)
    meta = getattr(recording, "meta", None) or {}
    if getattr(info, "simulated", False):
        return True
    board = str(meta.get("board", getattr(info, "board", "")) or "").lower()
    source = meta.get("source") if isinstance(meta.get("source"), dict) else {}
    return board == "synthetic" or -1 in (source.get("board_id"), source.get("master_board"))


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


#: What a reader says of a text file whose last line a crash cut off.
TORN_LINE = "the last line is incomplete (the file was cut off while writing); dropped"


def complete_lines(text: str, name: str, warnings: list[str]) -> str:
    """``text`` without a last line that lacks its newline (a file cut off while written).

    Parameters
    ----------
    text : str
        A text file's content.
    name : str
        The file's name, for the warning.
    warnings : list of str
        Where the warning goes when a line is dropped.
    """
    if text.endswith("\n"):
        return text
    cut = text.rfind("\n") + 1
    if text[cut:].strip():
        warnings.append(f"{name}: {TORN_LINE}")
    return text[:cut]


def gap_warning(stamps: np.ndarray, sfreq: float, what: str) -> str:
    """A warning when a file's timestamps span clearly more time than its samples fill at
    ``sfreq`` (dropped samples: a Bluetooth or network dropout), else ``""``.

    The samples are then played back to back, so the recording is shorter than the time the
    file spans; markers stay with the samples they fell on.
    """
    n = len(stamps)
    span = float(stamps[-1] - stamps[0]) if n > 1 else 0.0
    expected = (n - 1) / sfreq
    if span - expected > max(1.0, 0.01 * expected):
        return (f"{what} has gaps: its samples span {span:.1f} s but fill {expected:.1f} s at "
                f"{sfreq:g} Hz; they are played back to back")
    return ""
