"""The summary of one training session, and how to compute it from a recording.

The app builds a :class:`SessionSummary` at the end of a session and stores it in the recording
(``meta.json``'s ``"summary"``) and in the session library. For a recording without one (an
interrupted session, an imported file) :func:`summarise_recording` computes it from the focus
trace and the markers:

- ``rewards``: the number of ``reward`` markers; ``points``: the sum of their values (1 each
  when a reward carries no value);
- the threshold in force: the value of the latest ``threshold`` marker (the first one also
  applies before it); ``time_above_s``: the time of updates whose focus was at or above it
  (each update stands for one hop, the median spacing of the trace); ``fraction_above``: that
  over the time of updates that had a focus value (not gated);
- ``longest_streak``: the most rewards earned within one unbroken stretch above threshold;
- ``quality``: the mean trace quality; ``mean_focus``: the mean of non-gated focus values;
- ``block_focus``: the mean focus in each ``block_start``/``block_end`` block, keyed by the
  block's label (``"rest"``, ``"task"``, ``"rest 2"`` for the second rest block, ...).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Self

import numpy as np

from neurofb.errors import RecordingError
from neurofb.recording.labels import blocks
from neurofb.recording.trace import read_trace
from neurofb.types import Marker

__all__ = ["SessionSummary", "summarise_folder", "summarise_recording", "summarise_trace"]

#: Keys that mark a meta.json ``summary`` as a :class:`SessionSummary` (the app's end-of-session
#: summary) rather than the short trace summary written when an interrupted recording is finalised.
#: A streak survives this long off target: ``neurofb.practice.reward.RewardConfig``'s default
#: ``streak_grace_s`` (a recording does not keep the reward settings).
STREAK_GRACE_S = 1.0

_SUMMARY_KEYS = frozenset({"duration_s", "time_above_s", "fraction_above", "points",
                           "longest_streak", "block_focus", "exercise"})


@dataclass(frozen=True)
class SessionSummary:
    """What a training session achieved; one row of the session library.

    Parameters
    ----------
    user : str
        User id.
    started_at : str
        Start time, ISO 8601 with the local UTC offset (``2025-01-31T14:05:00+01:00``).
    duration_s : float
        Length of the session in seconds.
    exercise : str
        Exercise name (``"gauge"``, ``"rocket"``, ``"clarity"``, ``"calibration"``, ...).
    mean_focus : float or None
        Mean focus in [0, 1] over the updates that were not gated; None when there were none.
    time_above_s : float
        Seconds with focus at or above the threshold in force.
    fraction_above : float or None
        ``time_above_s`` over the time with a focus value, in [0, 1].
    rewards, points, longest_streak : int
        Rewards earned, points scored, most rewards in one unbroken stretch above threshold.
    model, model_hash : str
        Focus model (or band-power target) used, and its content hash.
    quality : float or None
        Mean signal quality in [0, 1].
    recording_path : str or None
        Recording folder of the session, if it was recorded.
    board : str
        Board or source name.
    notes : str
        The user's notes.
    threshold : float or None
        The reward threshold in force at the end.
    block_focus : dict of str to float
        Mean focus in each labelled block.
    """

    user: str = ""
    started_at: str = ""
    duration_s: float = 0.0
    exercise: str = ""
    mean_focus: float | None = None
    time_above_s: float = 0.0
    fraction_above: float | None = None
    rewards: int = 0
    points: int = 0
    longest_streak: int = 0
    model: str = ""
    model_hash: str = ""
    quality: float | None = None
    recording_path: str | None = None
    board: str = ""
    notes: str = ""
    threshold: float | None = None
    block_focus: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.duration_s < 0 or not math.isfinite(self.duration_s):
            raise ValueError(f"duration_s must be finite and >= 0, got {self.duration_s}")
        for name in ("mean_focus", "fraction_above", "quality", "threshold"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be finite or None, got {value}")
        for name in ("rewards", "points", "longest_streak"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["block_focus"] = dict(self.block_focus)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build a summary from a dict, ignoring unknown keys and converting number types.

        Raises
        ------
        ValueError
            A field has a value of the wrong type.
        """
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data or data[f.name] is None:
                continue
            value = data[f.name]
            try:
                if f.name in ("rewards", "points", "longest_streak", "id"):
                    value = int(value)
                elif f.name == "duration_s" or f.name == "time_above_s":
                    value = float(value)
                elif f.name in ("mean_focus", "fraction_above", "quality", "threshold"):
                    value = float(value)
                elif f.name == "block_focus":
                    value = {str(k): float(v) for k, v in dict(value).items()}
                elif f.name == "recording_path":
                    value = str(value)
                else:
                    value = str(value)
            except (TypeError, ValueError) as err:
                raise ValueError(f"session summary field {f.name}={value!r}: {err}") from None
            kwargs[f.name] = value
        return cls(**kwargs)


@dataclass(frozen=True)
class _Trace:
    t: np.ndarray  # (n,) seconds
    focus: np.ndarray  # (n,) NaN when gated
    quality: np.ndarray  # (n,)


def _parse_trace(rows: Sequence[Mapping[str, str]]) -> _Trace:
    def col(name: str) -> np.ndarray:
        out = np.full(len(rows), np.nan)
        for i, r in enumerate(rows):
            cell = (r.get(name) or "").strip()
            if cell:
                try:
                    out[i] = float(cell)
                except ValueError:
                    raise RecordingError(
                        f"trace row {i + 1} has a bad {name} value {cell!r}"
                    ) from None
        return out

    return _Trace(t=col("t"), focus=col("focus"), quality=col("quality"))


def _threshold_at(t: np.ndarray, markers: Sequence[Marker]) -> np.ndarray:
    """Threshold in force at each time (the first marker's before it: NaN everywhere when there
    is no threshold marker)."""
    marks = sorted(
        (m for m in markers if m.kind == "threshold" and m.value is not None), key=lambda m: m.t
    )
    out = np.full(t.shape, np.nan)
    if not marks:
        return out
    # The first marker is the threshold the session began with (in force at its own update);
    # each later one is the threshold adapted on its update, in force from the next one on.
    times = np.array([m.t + (1e-6 if i else 0.0) for i, m in enumerate(marks)])
    values = np.array([float(m.value) for m in marks])
    idx = np.searchsorted(times, t, side="right") - 1
    return values[np.clip(idx, 0, None)]


def paused_spans(markers: Sequence[Marker], end_s: float) -> list[tuple[float, float]]:
    """``(pause, resume)`` times of a session's paused stretches (one not resumed lasts to
    ``end_s``): the updates after a ``pause`` marker, up to its ``resume``, were paused."""
    spans: list[tuple[float, float]] = []
    since: float | None = None
    for m in sorted((m for m in markers if m.kind in ("pause", "resume")), key=lambda m: m.t):
        if m.kind == "pause" and since is None:
            since = m.t
        elif m.kind == "resume" and since is not None:
            spans.append((since, m.t))
            since = None
    if since is not None and end_s > since:
        spans.append((since, end_s))
    return spans


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges where ``mask`` is True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def summarise_trace(
    rows: Sequence[Mapping[str, str]],
    markers: Sequence[Marker],
    *,
    duration_s: float,
    continued: bool = False,
) -> dict[str, Any]:
    """Compute the trace-derived summary fields.

    Parameters
    ----------
    rows : sequence of mapping
        Trace CSV rows (:func:`neurofb.recording.trace.read_trace`): ``t``, ``focus``, ``quality``,
        ...
    markers : sequence of Marker
        The session's markers.
    duration_s : float
        Length of the session in seconds (closes a block left open).
    continued : bool
        The rows follow an update not among them (an exercise after its rest): the first row
        stands for a hop, not for nothing.

    Returns
    -------
    fields : dict
        ``mean_focus``, ``time_above_s``, ``fraction_above``, ``rewards``, ``points``,
        ``longest_streak``, ``quality``, ``threshold``, ``block_focus``.
    """
    tr = _parse_trace(rows)
    hop = float(np.median(np.diff(tr.t))) if tr.t.size > 1 else 0.0
    hop = hop if math.isfinite(hop) and hop > 0 else 0.0
    paused = np.zeros(tr.t.shape, dtype=bool)
    for a, b in paused_spans(markers, duration_s):  # as the live summary: no paused update
        paused |= (tr.t > a) & (tr.t <= b)
    if paused.any():
        tr = _Trace(t=tr.t[~paused], focus=tr.focus[~paused], quality=tr.quality[~paused])
    valid = np.isfinite(tr.focus) & np.isfinite(tr.t)
    # each update stands for the time since the one before (the first for none, a pause's
    # stretch for no more than a hop), as the reward logic counts time on target
    dt = np.minimum(np.diff(tr.t, prepend=tr.t[:1]), hop) if tr.t.size else tr.t
    dt = np.nan_to_num(dt, nan=0.0)
    if continued and dt.size:  # an update came before the first (the rest before the exercise)
        dt[0] = hop
    thr = _threshold_at(tr.t, markers)
    above = valid & np.isfinite(thr) & (np.nan_to_num(tr.focus) >= np.nan_to_num(thr))
    rewards = [m for m in markers if m.kind == "reward"]
    points = sum(1 if m.value is None else max(0, round(m.value)) for m in rewards)
    reward_t = np.array(sorted(m.t for m in rewards))
    longest = 0
    # a streak survives up to STREAK_GRACE_S off target (the reward logic's default): runs
    # above the threshold with shorter gaps between them are one streak
    streaks: list[list[float]] = []
    for start, stop in _runs(above):
        lo, hi = tr.t[start] - hop, tr.t[stop - 1]
        if streaks and lo - streaks[-1][1] <= STREAK_GRACE_S + 1e-9:
            streaks[-1][1] = hi
        else:
            streaks.append([lo, hi])
    for lo, hi in streaks:
        longest = max(longest, int(np.count_nonzero((reward_t > lo) & (reward_t <= hi))))
    counts: dict[str, int] = {}
    block_focus: dict[str, float] = {}
    for block in blocks(markers, end_s=duration_s):
        counts[block.label] = counts.get(block.label, 0) + 1
        key = block.label if counts[block.label] == 1 else f"{block.label} {counts[block.label]}"
        sel = valid & (tr.t >= block.start_s) & (tr.t < block.end_s)
        if sel.any():
            block_focus[key] = float(np.mean(tr.focus[sel]))
    has_thr = bool(np.isfinite(thr).any())
    q = tr.quality[np.isfinite(tr.quality)]
    thr_marks = [m for m in markers if m.kind == "threshold" and m.value is not None]
    return {
        "mean_focus": float(np.mean(tr.focus[valid])) if valid.any() else None,
        "time_above_s": float(dt[above].sum()),
        "fraction_above": (
            float(dt[above].sum() / dt[valid].sum())
            if has_thr and valid.any() and dt[valid].sum() > 0
            else None
        ),
        "rewards": len(rewards),
        "points": int(points),
        "longest_streak": longest,
        "quality": float(np.mean(q)) if q.size else None,
        "threshold": float(max(thr_marks, key=lambda m: m.t).value) if thr_marks else None,
        "block_focus": block_focus,
    }


def _local_iso(value: str | float) -> str:
    """ISO 8601 in local time with its offset, from a Unix time or an ISO string."""
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return when.astimezone().isoformat(timespec="seconds")
    return dt.datetime.fromtimestamp(value).astimezone().isoformat(timespec="seconds")


def _started_at(meta: Mapping[str, Any]) -> str:
    """Start time in local time (the history groups sessions by local day)."""
    for key in ("start_unix", "started_at", "start_time"):
        value = meta.get(key)
        if isinstance(value, str) and value:
            return _local_iso(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return _local_iso(float(value))
    return ""


def _meta_str(meta: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = meta.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, Mapping):  # e.g. {"model": {"name": ..., "hash": ...}}
            for sub in ("name", "id", "path"):
                if isinstance(value.get(sub), str) and value[sub]:
                    return value[sub]
    return ""


def _base_fields(meta: Mapping[str, Any], recording: Any) -> dict[str, Any]:
    model = meta.get("model")
    model_hash = _meta_str(meta, "model_hash")
    if not model_hash and isinstance(model, Mapping):
        model_hash = str(model.get("hash") or model.get("sha256") or "")
    info = getattr(recording, "info", None)
    markers = list(getattr(recording, "markers", []) or [])
    exercise = _meta_str(meta, "exercise")
    if not exercise:
        labels = {b.label for b in blocks(markers)}
        exercise = "calibration" if labels & {"rest", "task"} else ""
    path = getattr(recording, "path", None)
    return {
        "user": _meta_str(meta, "user", "user_id"),
        "started_at": _started_at(meta),
        "duration_s": float(getattr(recording, "duration_s", 0.0) or 0.0),
        "exercise": exercise,
        "model": _meta_str(meta, "model", "model_name", "estimator"),
        "model_hash": model_hash,
        "board": _meta_str(meta, "board") or (getattr(info, "board", "") if info else ""),
        # the recording's own note (e.g. "practised on a replay of …"), then its note markers
        "notes": _notes(_meta_str(meta, "notes"), [m.label for m in markers if m.kind == "note"]),
        "recording_path": str(Path(path).resolve()) if path else None,
    }


#: Note markers a session's notes quote, and the characters kept of each: a file's hundreds of
#: stimulus labels (an XDF marker stream) are counted, not copied into the library.
MAX_NOTE_MARKERS, MAX_NOTE_CHARS = 3, 80


def _notes(own: str, marked: list[str]) -> str:
    """The recording's own note, then its first note markers (shortened), then how many more."""
    marked = [n for n in marked if n]
    quoted = [n if len(n) <= MAX_NOTE_CHARS else n[: MAX_NOTE_CHARS - 1] + "…"
              for n in marked[:MAX_NOTE_MARKERS]]
    more = len(marked) - len(quoted)
    tail = [f"and {more} more note marker{'s' if more > 1 else ''}"] if more else []
    return "; ".join(n for n in (own, *quoted, *tail) if n)


def _trace_rows(recording: Any) -> list[dict[str, str]]:
    trace = getattr(recording, "trace", None)
    if trace is not None:
        return list(trace)
    path = getattr(recording, "path", None)
    if path is not None and (Path(path) / "trace.csv").is_file():
        return read_trace(Path(path) / "trace.csv")
    return []


def summarise_recording(recording: Any, *, closing: bool = False) -> SessionSummary:
    """Compute a session summary from a recording's focus trace, markers and metadata.

    Parameters
    ----------
    recording : neurofb.recording.base.Recording
        An opened recording; its focus trace is ``recording.trace`` (else the folder's
        ``trace.csv``). Without a trace there are no focus statistics, only duration, markers
        and metadata.
    closing : bool
        Its writer is closing it normally now: its meta.json does not say "complete" yet, and
        that is not what a crash left (no "interrupted" note).

    Returns
    -------
    summary : SessionSummary
    """
    meta = dict(getattr(recording, "meta", {}) or {})
    fields = _base_fields(meta, recording)
    rows, markers = _trace_rows(recording), list(recording.markers)
    end_s = fields["duration_s"]
    # a window ends at or before the last sample: trace rows after it (samples cut short or
    # lost since) have no data left under them
    rows = [r for r in rows if _time(r) <= end_s + 1e-6]
    markers = [m for m in markers if m.t <= end_s + 1e-6]  # and no event after them either
    part = _exercise_part(markers, fields["exercise"], end_s)
    continued = False
    if part is not None:  # a practice session: it is the exercise, not the rest before it
        start, end_s = part
        # the update that ended the exercise (the first at or after its end, within a hop)
        # is its last step, as the live summary counts it: its focus, its reward
        times = sorted(t for t in map(_time, rows) if math.isfinite(t))
        hop = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
        last = next((t for t in times if t >= end_s), None)
        upto = last if last is not None and last - end_s < hop - 1e-9 else end_s
        continued = bool(times) and times[0] < start
        rows = [r for r in rows if start <= _time(r) < end_s or _time(r) == upto]
        markers = [m for m in markers if start <= m.t <= max(end_s, upto)]
        fields["duration_s"] = end_s - start
    fields.update(summarise_trace(rows, markers, duration_s=end_s, continued=continued))
    begin = end_s - fields["duration_s"]
    paused = sum(max(0.0, min(b, end_s) - max(a, begin)) for a, b in paused_spans(markers, end_s))
    fields["duration_s"] = max(fields["duration_s"] - paused, 0.0)  # as live: unpaused time
    if meta.get("interrupted") or (meta.get("complete") is False and not closing):  # a crash
        fields["notes"] = "; ".join(
            n for n in ("interrupted: recovered after the program stopped", fields["notes"]) if n)
    listed, held = meta.get("n_samples"), getattr(recording, "n_samples", None)
    sfreq = meta.get("sfreq")
    if (meta.get("complete") and isinstance(listed, int) and isinstance(held, int)
            and held < listed and isinstance(sfreq, (int, float)) and sfreq > 0):
        cut = f"damaged: eeg.bin holds {held / sfreq:.1f} of its {listed / sfreq:.1f} s"
        fields["notes"] = "; ".join(n for n in (cut, fields["notes"]) if n)
    return SessionSummary.from_dict(fields)


def _time(row: Mapping[str, str]) -> float:
    try:
        return float(row.get("t", "nan"))
    except ValueError:
        return math.nan


def _exercise_part(markers: Sequence[Marker], exercise: str, duration_s: float
                   ) -> tuple[float, float] | None:
    """Start and end (s) of a practice session's exercise block — what the session summary
    the app writes at the end covers (the rest baseline before it left out) — or None when
    the recording has no block named after its exercise (a stream, a calibration, an import).
    """
    if not exercise:
        return None
    own = [b for b in blocks(markers, end_s=duration_s) if b.label == exercise]
    if not own:
        return None
    return own[0].start_s, own[-1].end_s


def _samples_intact(folder: Path, meta: dict) -> bool:
    """Whether eeg.bin holds the samples meta.json says it was closed with (not deleted, cut
    short or grown since): only then does the summary stored with them still describe them."""
    from neurofb.recording.base import EEG
    from neurofb.recording.folder import row_layout

    try:
        _, row_bytes = row_layout(meta)
        return (folder / EEG).stat().st_size == int(meta["n_samples"]) * row_bytes
    except (OSError, KeyError, TypeError, ValueError):
        return False


def summarise_folder(folder: str | os.PathLike) -> tuple[SessionSummary, bool]:
    """Summarise a neurofb recording folder for the library.

    Uses the :class:`SessionSummary` stored in ``meta.json`` at close when there is one
    (completed with the recording's metadata) and eeg.bin still holds the samples it was closed
    with; otherwise (an interrupted or imported recording, or samples deleted or cut short since)
    opens the recording and computes it with :func:`summarise_recording` — a recording that
    cannot be opened is an error, never listed with its old figures.

    Returns
    -------
    summary : SessionSummary
    computed : bool
        True when the summary had to be computed from the trace and markers.
    """
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RecordingError(f"cannot read {folder / 'meta.json'}: {err}") from err
    if not isinstance(meta, dict):
        raise RecordingError(f"{folder / 'meta.json'} is not a JSON object")
    stored = meta.get("summary")
    if isinstance(stored, Mapping) and _SUMMARY_KEYS & set(stored) and _samples_intact(folder,
                                                                                       meta):
        shell = SimpleNamespace(
            path=folder, markers=[], info=None,
            duration_s=stored.get("duration_s", meta.get("duration_s", 0.0)),
        )  # fmt: skip
        base = {k: v for k, v in _base_fields(meta, shell).items() if v not in ("", None)}
        base.pop("notes", None)
        merged = {**base, **{k: v for k, v in stored.items() if v not in ("", None)}}
        merged["recording_path"] = str(folder.resolve())
        return SessionSummary.from_dict(merged), False
    from neurofb.recording.formats import open_recording

    return summarise_recording(open_recording(folder)), True
