"""XDF files (LabRecorder's format, the Lab Streaming Layer's recordings), read with pyxdf.

An XDF file holds several streams, each with its own clock readings; pyxdf synchronises them
onto the recording machine's clock (``synchronize_clocks``), smooths the timestamps of regular
streams (``dejitter_timestamps``) and repairs clock resets. :func:`read_xdf` takes one EEG
stream as the recording — the one named (``stream=``), else the first whose type is ``EEG`` and
that neurofb did not publish — and every marker stream (string-valued or of type ``Markers``)
as markers, timed on the EEG's clock.

neurofb's own ``--lsl-out-eeg`` stream (``neurofb-EEG``: already band-passed and notched, marked
so in its ``<desc>``) is read only when it is the file's only EEG stream, with a warning that
replaying it filters it twice. When several EEG streams remain, the first is read with a
warning that lists them and says how to pick another (``--stream NAME``).

Channel names and units come from the stream's ``<desc><channels>`` (the XDF/LSL metadata
convention); a stream without names gets ``Ch1…`` (or ``montage``), one without units is
scaled by ``unit`` (``"auto"`` guesses volts or microvolts from the amplitude and says so in the
recording's warnings). Marker strings written by neurofb's own LSL outlet (``kind:label=value``)
come back as the markers they were; any other string is a ``note`` with that text, and so is a
numeric trigger code (``5``; ``5,7`` for a sample of several channels). A marker is
placed on the EEG sample it fell on, so markers stay with their samples across gaps in the
stream (which are played back to back, with a warning).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from neurofb.dsp.montage import montage_names
from neurofb.dsp.units import factor_to_uv, guess_unit, unit_key
from neurofb.errors import ChannelError, RecordingError
from neurofb.recording.base import Recording, gap_warning
from neurofb.recording.folder import MAX_BACKSTEP_S
from neurofb.recording.mne_files import decode_annotation, marker_text
from neurofb.types import Marker, SourceInfo

__all__ = ["MAGIC", "describe_streams", "read_xdf"]

log = logging.getLogger(__name__)

#: The first four bytes of every XDF file.
MAGIC = b"XDF:"


def _header_time(when: str, path: Path, warn: list[str]) -> float | None:
    """The Unix time of the file header's ``<datetime>`` (LabRecorder's recording start).

    None when the header has none, or one that is not ISO 8601 (with a warning); a time without
    a UTC offset is read as this computer's local time.
    """
    if not when:
        return None
    try:
        parsed = dt.datetime.fromisoformat(when.strip())
    except ValueError:
        warn.append(f"{path.name}: the header's recording date {when!r} is not an ISO 8601 "
                    "time; it is ignored")
        return None
    if parsed.tzinfo is None:
        warn.append(f"{path.name}: the header's recording date {when!r} has no UTC offset; it "
                    "is read as this computer's local time")
    start = parsed.timestamp()
    return start if math.isfinite(start) else None


def _first(value: Any, default: str = "") -> str:
    """pyxdf wraps every header value in a list: the first element as text."""
    while isinstance(value, list):
        if not value:
            return default
        value = value[0]
    return default if value is None else str(value)


def _desc(info: dict) -> dict:
    """The stream's ``<desc>`` as pyxdf parsed it ({} when it has none)."""
    desc = info.get("desc")
    desc = desc[0] if isinstance(desc, list) and desc else desc
    return desc if isinstance(desc, dict) else {}


def _channels(info: dict) -> list[dict[str, str]]:
    desc = _desc(info)
    chans = desc.get("channels")
    chans = chans[0] if isinstance(chans, list) and chans else chans
    if not isinstance(chans, dict):
        return []
    out = []
    for ch in chans.get("channel", []) or []:
        if isinstance(ch, dict):
            out.append({k: _first(ch.get(k)) for k in ("label", "unit", "type")})
    return out


def _summary(stream: dict) -> str:
    info = stream["info"]
    return (f"{_first(info.get('name'))!r} (type {_first(info.get('type')) or '?'}, "
            f"{_first(info.get('channel_count'))} channels at "
            f"{float(_first(info.get('nominal_srate'), '0')):g} Hz, "
            f"{len(stream.get('time_stamps', []))} samples)")  # fmt: skip


def _is_markers(stream: dict) -> bool:
    info = stream["info"]
    return (_first(info.get("channel_format")) == "string"
            or _first(info.get("type")).lower() == "markers")  # fmt: skip


def _is_signal(stream: dict) -> bool:
    info = stream["info"]
    return (not _is_markers(stream) and float(_first(info.get("nominal_srate"), "0")) > 0
            and len(stream.get("time_stamps", [])) > 0)  # fmt: skip


def _is_eeg(stream: dict) -> bool:
    return _is_signal(stream) and _first(stream["info"].get("type")).lower() in ("eeg", "exg")


def _from_neurofb(stream: dict) -> bool:
    """Whether the stream is neurofb's own filtered EEG (``neurofb stream --lsl-out-eeg``)."""
    info = stream["info"]
    desc = _desc(info)
    acquisition = desc.get("acquisition")
    acquisition = acquisition[0] if isinstance(acquisition, list) and acquisition else {}
    maker = _first(acquisition.get("manufacturer")) if isinstance(acquisition, dict) else ""
    return (maker == "neurofb" or _first(desc.get("filtering")).startswith("neurofb")
            or _first(info.get("name")) == "neurofb-EEG")  # fmt: skip


def _name(stream: dict) -> str:
    return repr(_first(stream["info"].get("name")))


#: What a warning says of neurofb's own EEG stream.
_FILTERED = ("neurofb's own --lsl-out-eeg output, already band-passed and notched: replaying "
             "it filters it a second time")  # fmt: skip


class _Damage(logging.Handler):
    """Collects what pyxdf logs as errors while it reads (a file cut short, a damaged chunk)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _load(path: Path, warn: list[str] | None = None) -> tuple[list[dict], dict]:
    """pyxdf's streams and header; what pyxdf found damaged becomes a warning in ``warn``."""
    import pyxdf

    damage = _Damage()
    logger = logging.getLogger("pyxdf.pyxdf")
    logger.addHandler(damage)
    propagate = logger.propagate  # pyxdf's own lines only when asked (-v): the warning says it
    logger.propagate = logging.getLogger().isEnabledFor(logging.INFO)
    try:
        return pyxdf.load_xdf(str(path), synchronize_clocks=True, dejitter_timestamps=True,
                              handle_clock_resets=True)  # fmt: skip
    except Exception as err:  # pyxdf raises bare Exceptions, struct errors, XML errors...
        raise RecordingError(f"{path} is not a readable XDF file ({type(err).__name__}: "
                             f"{err}); it may be truncated or damaged") from None
    finally:
        logger.removeHandler(damage)
        logger.propagate = propagate
        if damage.messages and warn is not None:
            first = damage.messages[0].strip().splitlines()[0]
            warn.append(f"{path.name} is damaged or cut short (pyxdf: {first}); reading what "
                        "is there")


def describe_streams(path: str | os.PathLike) -> list[str]:
    """One line per stream of an XDF file (name, type, channels, rate, samples)."""
    streams, _ = _load(Path(path))
    return [_summary(s) for s in streams]


def _pick(streams: list[dict], stream: str | None, path: Path, warn: list[str]) -> dict:
    """The stream to read: the one named, else the first EEG stream neurofb did not publish."""
    listing = "; ".join(_summary(s) for s in streams) or "none"
    if stream is not None:
        named = [s for s in streams if _first(s["info"].get("name")) == stream]
        if not named:
            raise RecordingError(f"{path} has no stream named {stream!r}; its streams: {listing}")
        if not _is_signal(named[0]):
            raise RecordingError(f"stream {stream!r} of {path} holds no regularly sampled "
                                 f"signal: {_summary(named[0])}")  # fmt: skip
        if _from_neurofb(named[0]):
            warn.append(f"stream {stream!r} is {_FILTERED}")
        return named[0]
    eeg = [s for s in streams if _is_eeg(s)]
    if not eeg:
        raise RecordingError(f"{path} holds no EEG stream (type EEG with samples); choose one "
                             f"with --stream NAME. Its streams: {listing}")  # fmt: skip
    headset = [s for s in eeg if not _from_neurofb(s)]
    if not headset:
        warn.append(f"stream {_name(eeg[0])}, the only EEG stream of {path.name}, is {_FILTERED}; "
                    "record the headset's own stream beside it to replay the raw EEG")
        return eeg[0]
    if len(headset) < len(eeg):
        warn.append(f"{', '.join(_name(s) for s in eeg if _from_neurofb(s))} left out: neurofb's "
                    "own filtered --lsl-out-eeg output, not the headset's EEG")  # fmt: skip
    if len(headset) > 1:
        warn.append(f"{path.name} holds {len(headset)} EEG streams: "
                    f"{'; '.join(_summary(s) for s in headset)}; reading the first, "
                    f"{_name(headset[0])}: pass --stream NAME to read another")  # fmt: skip
    return headset[0]


def read_xdf(
    path: str | os.PathLike,
    *,
    stream: str | None = None,
    montage: str | None = None,
    unit: str = "auto",
) -> Recording:
    """Read one EEG stream of an XDF file, with the file's marker streams as markers.

    Parameters
    ----------
    path : path-like
        The ``.xdf`` file.
    stream : str, optional
        Name of the stream to read; default the first stream of type ``EEG`` that neurofb did
        not publish (neurofb's own filtered EEG only when it is the only one; both with a
        warning when the choice is not the only one possible).
    montage : str, optional
        Channel names (see :func:`neurofb.dsp.montage.montage_names`); overrides the
        stream's own.
    unit : str
        Unit of the samples when the stream's description gives none: ``"auto"`` (guess volts
        or µV from the amplitude, with a warning), ``"uV"``, ``"mV"`` or ``"V"``.

    Returns
    -------
    Recording
        Data in µV, shape (n_channels, n_samples); timestamps in seconds on the recording
        machine's LSL clock; markers in seconds since the first EEG sample.

    Raises
    ------
    RecordingError
        Not a readable XDF file, no such (or no EEG) stream, an unknown unit.
    """
    path = Path(path)
    warn: list[str] = []
    streams, header = _load(path, warn)
    damaged = bool(warn)
    chosen = _pick(streams, stream, path, warn)
    if not damaged and not chosen.get("footer"):  # LabRecorder ends every stream with a footer
        warn.append(f"{path.name} is cut short (stream {_first(chosen['info'].get('name'))!r} "
                    "has no footer: the recording did not end cleanly); reading what is there")
    info = chosen["info"]
    name = _first(info.get("name"))
    series = np.asarray(chosen["time_series"], dtype=np.float64)
    stamps = np.asarray(chosen["time_stamps"], dtype=np.float64)
    if series.ndim != 2 or series.shape[0] != stamps.shape[0]:
        raise RecordingError(f"stream {name!r} of {path} is damaged: {series.shape} samples "
                             f"for {stamps.shape[0]} timestamps")  # fmt: skip
    if series.shape[0] < 2:
        raise RecordingError(f"stream {name!r} of {path} holds {series.shape[0]} sample(s): "
                             "nothing to read (a file cut short?)")  # fmt: skip
    sfreq = float(_first(info.get("nominal_srate"), "0"))
    chans = _channels(info)
    n_ch = series.shape[1]
    if len(chans) != n_ch:
        if chans:
            warn.append(f"stream {name!r} describes {len(chans)} channels but holds {n_ch}; "
                        "its channel names are ignored")  # fmt: skip
        chans = [{"label": "", "unit": "", "type": ""} for _ in range(n_ch)]
    keep = [i for i, c in enumerate(chans) if c["type"].lower() in ("", "eeg", "exg")]
    if not keep:
        if stream is None:
            raise RecordingError(f"stream {name!r} of {path} has no EEG channel (channel types: "
                                 f"{sorted({c['type'] for c in chans})})")  # fmt: skip
        keep = list(range(n_ch))  # the stream was chosen by name: take it as it is
        warn.append(f"stream {name!r} has no channel typed EEG; all its channels are read")
    if len(keep) < n_ch:
        dropped = [chans[i]["label"] or f"#{i + 1}" for i in range(n_ch) if i not in keep]
        warn.append(f"non-EEG channels dropped: {', '.join(dropped)}")
    data = series[:, keep].T
    labels = [chans[i]["label"] for i in keep]
    if montage is not None:
        try:
            ch_names = montage_names(montage, len(keep))
        except ChannelError as err:
            raise RecordingError(str(err)) from None
    elif all(labels) and len(set(labels)) == len(labels):
        ch_names = tuple(labels)
    else:
        ch_names = tuple(f"Ch{i + 1}" for i in range(len(keep)))
        warn.append(f"stream {name!r} names no channels (or names one twice): called "
                    f"{ch_names[0]}…{ch_names[-1]}; pass --montage to name them")  # fmt: skip
    units = {chans[i]["unit"] for i in keep}
    if units - {""}:
        factors = []
        for i in keep:
            u = chans[i]["unit"] or unit
            try:
                factors.append(factor_to_uv(u))
            except ValueError:
                raise RecordingError(
                    f"channel {chans[i]['label'] or i + 1} of stream {name!r} is in {u!r}, not a "
                    "voltage neurofb knows (uV, mV, V)") from None
        data = data * np.asarray(factors)[:, None]
        unit_text = ", ".join(sorted({unit_key(chans[i]["unit"] or unit) or "?" for i in keep}))
    else:
        chosen_unit = unit
        if unit == "auto":
            chosen_unit = guess_unit(data[:, : max(2, int(sfreq * 10))])
            warn.append(f"stream {name!r} gives no unit: its amplitude looks like "
                        f"{chosen_unit}, so it is read as {chosen_unit}; pass --unit if that is "
                        "wrong")  # fmt: skip
        try:
            data = data * factor_to_uv(chosen_unit)
        except ValueError as err:
            raise RecordingError(str(err)) from None
        unit_text = unit_key(chosen_unit) or chosen_unit
    n = stamps.size
    steps = np.diff(stamps)
    if not np.all(np.isfinite(stamps)) or steps.min() < -MAX_BACKSTEP_S:
        bad = (int(np.argmin(np.isfinite(stamps))) if not np.all(np.isfinite(stamps))
               else int(np.argmin(steps)) + 1)
        raise RecordingError(
            f"stream {name!r} of {path} is damaged: its timestamps are not a clock (sample "
            f"{bad} is {'not a number' if not np.isfinite(stamps[bad]) else 'out of order'}); "
            "nothing can place its samples and markers in time")
    gaps = gap_warning(stamps, sfreq, f"stream {name!r}")
    if gaps:
        warn.append(gaps)
    # A marker goes to the sample it fell on (so markers stay with their samples across gaps).
    sample_no = np.arange(n, dtype=np.float64)
    markers: list[Marker] = []
    outside = 0
    for other in streams:
        if other is chosen or not _is_markers(other):
            continue
        for value, ts in zip(other["time_series"], other["time_stamps"], strict=False):
            if not stamps[0] - 1.0 / sfreq <= ts <= stamps[-1] + 1.0 / sfreq:
                outside += 1
                continue
            t = float(np.interp(ts, stamps, sample_no)) / sfreq
            markers.extend(decode_annotation(marker_text(value), t, 0.0))
    if outside:
        warn.append(f"{outside} marker(s) outside the EEG stream's time span dropped")
    markers.sort(key=lambda m: m.t)
    meta = {"source_format": "xdf", "file": str(path), "xdf_stream": name,
            "xdf_streams": [_summary(s) for s in streams], "unit_in_file": unit_text}
    when = _first(header.get("info", {}).get("datetime")) if isinstance(header, dict) else ""
    start = _header_time(when, path, warn)
    if start is not None:  # the writer sets start_time (UTC) and the end from it
        meta["start_unix"] = start
    source = SourceInfo(ch_names=ch_names, sfreq=sfreq, board=name or "xdf", live=False,
                        details={"recording": str(path), "format": "xdf", "stream": name,
                                 "stream_type": _first(info.get("type"))})  # fmt: skip
    return Recording(info=source, meta=meta, data=np.ascontiguousarray(data), timestamps=stamps,
                     markers=markers, path=path, warnings=warn)  # fmt: skip
