"""Labelled windows from neurofb recordings (a user's own calibration sessions).

The labels come from the recording's ``block_start``/``block_end`` markers (``rest`` = 0,
``task`` = 1, :func:`neurofb.recording.labels.labelled_blocks`). The whole recording is filtered as
the live engine filters it, then windows lying entirely inside a labelled block are cut and
turned into the focus model's features at the recording's own rate
(:mod:`neurofb.training.windows`). Each recording is its own "subject" (one session) for
validation splits and baseline mode, so a session is never split between training and
validation.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neurofb.config import EngineConfig
from neurofb.dsp import montage
from neurofb.errors import RecordingError
from neurofb.recording.labels import labelled_blocks
from neurofb.training.windows import (
    FeatureSet,
    concat,
    cut_features,
    filter_like_engine,
    window_starts,
)


def recording_hash(rec: object) -> str:
    """SHA-256 of a recording's samples and markers (what the labels and windows come from)."""
    h = hashlib.sha256()
    data = np.ascontiguousarray(rec.data, dtype=np.float64)
    h.update(str(data.shape).encode())
    h.update(data.tobytes())
    for m in rec.markers:
        h.update(f"{m.t:.6f}|{m.kind}|{m.label}|{m.value}\n".encode())
    return h.hexdigest()


def _hold_nonfinite(x: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Each non-finite sample replaced by its channel's last finite one (0 before the first)."""
    idx = np.where(bad, -1, np.arange(x.shape[1]))
    np.maximum.accumulate(idx, axis=1, out=idx)
    held = np.take_along_axis(np.where(bad, 0.0, x), np.maximum(idx, 0), axis=1)
    return np.where(idx >= 0, held, 0.0)


def recording_windows(rec: object, *, subject: int = 0, window_s: float = 2.0,
                      hop_s: float = 1.0, config: EngineConfig = EngineConfig()) -> FeatureSet:
    """Labelled windows of one recording.

    Parameters
    ----------
    rec : neurofb.recording.base.Recording
        An opened recording (data in µV, markers in seconds since its start).
    subject : int
        The id its windows get (for splits by recording).
    window_s, hop_s : float
        Window length and step in seconds.
    config : EngineConfig
        The engine's filter settings.

    Windows that hold a non-finite sample (a dropped burst) are left out.

    Raises
    ------
    RecordingError
        When the recording has no labelled rest/task block long enough for one window.
    neurofb.errors.ChannelError
        When fewer than 3 of its channels are 10-20/10-10 electrodes.
    """
    name = str(getattr(rec, "path", None) or "the recording")
    blocks = labelled_blocks(rec.markers, end_s=rec.duration_s)
    if not blocks:
        raise RecordingError(
            f"{name} has no labelled rest/task blocks; record a calibration session first "
            f"(block_start/block_end markers labelled 'rest' and 'task')")
    names, idx, _ = montage.match(rec.ch_names)
    x = np.asarray(rec.data)[idx]
    bad = ~np.isfinite(x)
    missing = None
    if bad.any():  # a dropped burst: hold the last value for the filter, drop its windows
        x = _hold_nonfinite(x, bad)
        missing = np.concatenate([[0], np.cumsum(bad.any(axis=0))])
    filtered = filter_like_engine(x, rec.sfreq, config)
    n_win = round(window_s * rec.sfreq)
    parts = []
    for b in blocks:
        starts = window_starts(filtered.shape[1], rec.sfreq, window_s=window_s, hop_s=hop_s,
                               start_s=b.start_s, end_s=b.end_s)
        if missing is not None and len(starts):
            starts = starts[missing[starts + n_win] == missing[starts]]
        if len(starts):
            X = cut_features(filtered, rec.sfreq, starts, window_s=window_s)
            parts.append(FeatureSet(X=X, y=np.full(len(X), b.y, np.int64),
                                    subject=np.full(len(X), subject, np.int64),
                                    t=starts / rec.sfreq, ch_names=names, window_s=window_s))
    if not parts:
        raise RecordingError(f"{name}: no labelled block is as long as one {window_s:g} s "
                             f"window")
    fs = concat(parts)
    order = np.argsort(fs.t, kind="stable")
    fs = fs.take(order)
    digest = recording_hash(rec)
    return FeatureSet(X=fs.X, y=fs.y, subject=fs.subject, t=fs.t, ch_names=fs.ch_names,
                      window_s=window_s,
                      files=[{"file": name, "sha256": digest, "sfreq": float(rec.sfreq),
                              "n_windows": len(fs), "windows_rest": int((fs.y == 0).sum()),
                              "windows_task": int((fs.y == 1).sum())}])


def load_recordings(paths: Sequence[str | os.PathLike], **kwargs: object) -> FeatureSet:
    """Labelled windows of several recordings (recording ``i`` gets subject id ``i``).

    A folder that is not itself a recording is searched for recordings (folders holding a
    ``meta.json``). Keyword arguments go to :func:`recording_windows`.

    Raises
    ------
    RecordingError
        When no recording with labelled blocks is found.
    """
    from neurofb.recording.formats import open_recording

    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir() and not (p / "meta.json").exists():
            found += sorted(m.parent for m in p.rglob("meta.json"))
        else:
            found.append(p)
    if not found:
        raise RecordingError(f"no recordings found in {[str(p) for p in paths]}")
    sets, skipped = [], []
    for i, p in enumerate(found):
        rec = open_recording(p)
        try:
            sets.append(recording_windows(rec, subject=i, **kwargs))
        except RecordingError as err:
            skipped.append(str(err))
    if not sets:
        raise RecordingError("none of the recordings has labelled rest/task blocks: "
                             + "; ".join(skipped))
    return concat(sets)
