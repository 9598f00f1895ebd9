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
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from neurofb.config import EngineConfig
from neurofb.dsp import montage
from neurofb.dsp.quality import assess
from neurofb.errors import NeurofbError, RecordingError
from neurofb.recording.base import recorded_simulation
from neurofb.recording.labels import labelled_blocks
from neurofb.training.windows import (
    FeatureSet,
    concat,
    cut_features,
    filter_like_engine,
    window_starts,
    windows_at,
)

#: Windows judged at once by the quality check (bounds memory on long blocks).
_BATCH = 256


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


def _gate(rec: object, config: EngineConfig) -> float:
    """The quality a window needs, as the pipeline gates it live and in replay: a recording of
    BrainFlow's synthetic board (sines, not EEG) is gated only on non-finite samples, unless
    the caller set another gate (:class:`neurofb.stream.pipeline.Pipeline`,
    :class:`neurofb.stream.replay.ReplaySource`)."""
    return config.gate_for(recorded_simulation(rec))


def _clean(raw: np.ndarray, filtered: np.ndarray, sfreq: float, starts: np.ndarray, *,
           window_s: float, ch_names: Sequence[str], min_quality: float
           ) -> tuple[np.ndarray, list[str]]:
    """Which windows pass the engine's quality gate (:func:`neurofb.dsp.quality.assess`), and
    the worst reason of each one that does not."""
    keep = np.zeros(len(starts), bool)
    reasons = []
    for block in np.array_split(np.arange(len(starts)), max(1, len(starts) // _BATCH)):
        with np.errstate(all="ignore"):  # railed values beyond float range: gated
            report = assess(windows_at(raw, sfreq, starts[block], window_s=window_s),
                            windows_at(filtered, sfreq, starts[block], window_s=window_s),
                            sfreq, ch_names=ch_names)
        ok = report.window_score >= min_quality
        keep[block] = ok
        reasons += [str(r).split(":")[0] or "low quality" for r in report.window_reason[~ok]]
    return keep, reasons


def _usable(raw: np.ndarray, filtered: np.ndarray, missing: np.ndarray | None, sfreq: float,
            starts: np.ndarray, *, window_s: float, ch_names: Sequence[str],
            min_quality: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The windows at ``starts`` the engine would score, their features, and why each of the
    others is left out (non-finite samples, the quality gate, features no gate caught)."""
    reasons = []
    if missing is not None and len(starts):
        n_win = round(window_s * sfreq)
        finite = missing[starts + n_win] == missing[starts]
        reasons += ["NaN"] * int((~finite).sum())
        starts = starts[finite]
    if len(starts):
        keep, why = _clean(raw, filtered, sfreq, starts, window_s=window_s, ch_names=ch_names,
                           min_quality=min_quality)
        reasons += why
        starts = starts[keep]
    with np.errstate(all="ignore"):
        X = cut_features(filtered, sfreq, starts, window_s=window_s)
    finite = np.isfinite(X).all(axis=(1, 2))
    reasons += ["non-finite features"] * int((~finite).sum())
    return starts[finite], X[finite], reasons


def left_out(files: Sequence[dict]) -> str:
    """How many windows the quality check left out and why (``"59 flat, 2 with missing
    samples"``), over the provenance records of :func:`recording_windows`; ``""`` if none."""
    counts: dict[str, int] = {}
    for f in files:
        for reason, n in f.get("windows_left_out", {}).get("reasons", {}).items():
            counts[reason] = counts.get(reason, 0) + int(n)
    words = {"NaN": "with missing samples"}
    return ", ".join(f"{n} {words.get(r, r)}" for r, n in
                     sorted(counts.items(), key=lambda item: -item[1]))


def recording_windows(rec: object, *, subject: int = 0, window_s: float = 2.0,
                      hop_s: float = 1.0, config: EngineConfig = EngineConfig()) -> FeatureSet:
    """Labelled windows of one recording: the clean ones, as the live engine would score them.

    Parameters
    ----------
    rec : neurofb.recording.base.Recording
        An opened recording (data in µV, markers in seconds since its start).
    subject : int
        The id its windows get (for splits by recording).
    window_s, hop_s : float
        Window length and step in seconds.
    config : EngineConfig
        The engine's filter settings and quality gate (``min_quality``).

    Windows the live engine would not score are left out: those holding a non-finite sample
    (a dropped burst) and those its quality gate refuses (:func:`neurofb.dsp.quality.assess`:
    flat, railed, …; a synthetic-board recording only on non-finite samples, as live). The
    provenance record (``files``) counts them by reason (``windows_left_out``).

    Raises
    ------
    RecordingError
        When the recording has no labelled rest/task block long enough for one window, or no
        clean window in them.
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
    with np.errstate(all="ignore"):  # 3e38 µV overflows the filter: gated below
        filtered = filter_like_engine(x, rec.sfreq, config)
    min_quality = _gate(rec, config)
    parts, n_fit, reasons, dropped = [], 0, [], {0: 0, 1: 0}
    for b in blocks:
        starts = window_starts(filtered.shape[1], rec.sfreq, window_s=window_s, hop_s=hop_s,
                               start_s=b.start_s, end_s=b.end_s)
        n_fit += len(starts)
        starts, X, why = _usable(x, filtered, missing, rec.sfreq, starts, window_s=window_s,
                                 ch_names=names, min_quality=min_quality)
        reasons += why
        dropped[b.y] += len(why)
        if len(starts):
            parts.append(FeatureSet(X=X, y=np.full(len(X), b.y, np.int64),
                                    subject=np.full(len(X), subject, np.int64),
                                    t=starts / rec.sfreq, ch_names=names, window_s=window_s))
    counts = {r: reasons.count(r) for r in sorted(set(reasons))}
    gone = {"rest": dropped[0], "task": dropped[1], "reasons": counts}
    if not n_fit:
        raise RecordingError(f"{name}: no labelled block is as long as one {window_s:g} s "
                             f"window")
    if not parts:
        raise RecordingError(f"{name}: none of the {n_fit} windows of its labelled blocks is "
                             f"clean enough to score ({left_out([{'windows_left_out': gone}])}"
                             "): check the electrodes' contact and record again")
    fs = concat(parts)
    order = np.argsort(fs.t, kind="stable")
    fs = fs.take(order)
    digest = recording_hash(rec)
    return FeatureSet(X=fs.X, y=fs.y, subject=fs.subject, t=fs.t, ch_names=fs.ch_names,
                      window_s=window_s,
                      files=[{"file": name, "sha256": digest, "sfreq": float(rec.sfreq),
                              "n_windows": len(fs), "windows_rest": int((fs.y == 0).sum()),
                              "windows_task": int((fs.y == 1).sum()),
                              "windows_left_out": gone}])


def load_recordings(paths: Sequence[str | os.PathLike], *,
                    on_skip: Callable[[str], None] | None = None,
                    **kwargs: object) -> FeatureSet:
    """Labelled windows of several recordings (recording ``i`` gets subject id ``i``).

    A folder that is not itself a recording is searched for recordings (folders holding a
    ``meta.json``); those without clean windows in labelled blocks are left out, each told to
    ``on_skip`` (a line naming it and why). Keyword arguments go to
    :func:`recording_windows`.

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
            if on_skip is not None:
                on_skip(f"{p} left out: {err}")
    if not sets:
        raise RecordingError("none of the recordings has clean windows in labelled rest/task "
                             "blocks: " + "; ".join(skipped))
    return distinct(concat(sets))


def distinct(fs: FeatureSet) -> FeatureSet:
    """``fs``, after checking that no recording is in it twice (by the hash of its samples and
    markers: the same folder given twice, or a copy of it).

    Raises
    ------
    NeurofbError
        Naming both: the recording's windows would be trained on and validated on.
    """
    seen: dict[str, str] = {}
    for entry in fs.files:
        digest, name = str(entry.get("sha256")), str(entry.get("file"))
        if digest in seen:
            what = (f"{name} is given twice" if seen[digest] == name else
                    f"{seen[digest]} and {name} hold the same recording (the same samples and "
                    "markers)")
            raise NeurofbError(f"{what}: give each recording once, or its windows are trained "
                               "on and validated on")
        seen[digest] = name
    return fs
