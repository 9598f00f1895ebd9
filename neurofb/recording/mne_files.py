"""EDF/EDF+/BDF, FIF and BIDS through MNE (and edfio, mne-bids).

Units: recordings hold µV; MNE holds V. :func:`to_raw` scales by 1e-6 and :func:`read_raw_file`
by 1e6, at this boundary only. Every channel is typed ``eeg`` and keeps its name.

Markers travel as annotations of zero duration whose description encodes the marker
(:func:`encode_marker`): ``kind``, ``kind:label`` or ``kind:label=value`` (``%`` and ``=`` in
labels and characters outside printable ASCII are %-escaped; the value is Python's ``repr`` of
the float, so it survives exactly). Annotations of other software become ``note`` markers, or a
``block_start``/``block_end`` pair when they have a duration.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import shutil
import string
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from neurofb.errors import RecordingError
from neurofb.recording.base import Recording, portable_meta
from neurofb.types import Marker, SourceInfo

#: Marker kinds of the engine (an annotation ``kind`` alone is read as a marker of that kind).
KINDS = frozenset({
    "session_start", "session_end", "block_start", "block_end", "reward", "threshold",
    "note", "disconnect", "reconnect", "label",
})  # fmt: skip
#: First word of channel names that are not EEG (dropped on import).
NOT_EEG = frozenset({
    "ECG", "EKG", "EOG", "HEOG", "VEOG", "EMG", "RESP", "RESPIRATION", "SPO2", "SAO2", "PULSE",
    "PLETH", "HR", "TEMP", "STATUS", "TRIGGER", "TRIG", "STI", "STIM", "EVENT", "EVENTS",
    "MARKER", "PHOTIC", "LIGHT", "ACC", "ACCEL", "GYRO", "GSR", "EDA", "BP", "MISC", "SNORE",
    "POSITION", "BATTERY", "TIMESTAMP", "SAMPLE", "ANNOTATIONS",
})  # fmt: skip
_SAFE = "".join(c for c in string.printable if c not in "%=\t\n\r\x0b\x0c")
_OURS = re.compile(r"(?P<kind>[a-z][a-z0-9_]*)(?::(?P<label>[^=]*))?(?:=(?P<value>[^=]+))?")
#: EDF's start date must lie in 1985..2084.
_EDF_MIN, _EDF_MAX = 473_385_600.0, 3_629_145_600.0
PAD_ANNOTATION = "BAD_ACQ_SKIP"


def encode_marker(marker: Marker) -> str:
    """Return the annotation description of a marker (see the module docstring)."""
    text = marker.kind
    if marker.label or marker.value is not None or marker.kind not in KINDS:
        text += ":" + quote(marker.label, safe=_SAFE)
    if marker.value is not None:
        text += "=" + repr(float(marker.value))
    return text


def decode_annotation(description: str, onset: float, duration: float) -> list[Marker]:
    """Return the markers an annotation stands for (one, or a start/end pair for a span)."""
    m = _OURS.fullmatch(description)
    if m and (m["kind"] in KINDS or ":" in description):
        value = None
        if m["value"] is not None:
            try:
                value = float(m["value"])
            except ValueError:
                value = None
        if m["value"] is None or value is not None:
            return [Marker(onset, m["kind"], unquote(m["label"] or ""), value)]
    if duration > 0:
        return [
            Marker(onset, "block_start", description),
            Marker(onset + duration, "block_end", description),
        ]
    return [Marker(onset, "note", description)]


def _meas_date(recording: Any) -> dt.datetime | None:
    """Start of the first sample as an aware UTC datetime (None when unknown)."""
    t0 = float(recording.timestamps[0]) if recording.timestamps.size else math.nan
    if not _EDF_MIN <= t0 < _EDF_MAX:
        start = (getattr(recording, "meta", {}) or {}).get("start_unix")
        t0 = float(start) if isinstance(start, int | float) else math.nan
    if not _EDF_MIN <= t0 < _EDF_MAX:
        return None
    return dt.datetime.fromtimestamp(t0, dt.UTC)


def _code(text: object) -> str:
    """An EDF header word: printable ASCII without spaces."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text or "")).strip("_")[:40]


def to_raw(recording: Any) -> Any:
    """Return the recording as an MNE RawArray (V, channel type ``eeg``, annotations).

    Parameters
    ----------
    recording : Recording
        Data in µV, shape (n_channels, n_samples).
    """
    import mne

    names = list(recording.info.ch_names)
    if len(set(names)) != len(names):
        raise RecordingError(f"channel names are not unique ({names}); rename them first")
    info = mne.create_info(names, float(recording.info.sfreq), "eeg")
    meta = getattr(recording, "meta", {}) or {}
    # The free-text description carries what neurofb needs to import the file back.
    info["description"] = json.dumps({"neurofb": {
        **portable_meta(meta), "board": recording.info.board,
        "source": meta.get("source") if isinstance(meta.get("source"), dict) else {},
    }})  # fmt: skip
    if meta.get("user"):
        info["subject_info"] = {"his_id": _code(meta["user"]) or "X"}
    if recording.info.board:
        info["device_info"] = {"type": _code(recording.info.board) or "X"}
    raw = mne.io.RawArray(recording.data * 1e-6, info, verbose="error")
    meas = _meas_date(recording)
    raw.set_meas_date(meas)
    last = (recording.data.shape[1] - 1) / float(recording.info.sfreq)
    markers = list(recording.markers)
    if markers:
        onsets = np.clip([m.t for m in markers], 0.0, last)
        raw.set_annotations(mne.Annotations(
            onset=onsets, duration=np.zeros(len(markers)),
            description=[encode_marker(m) for m in markers], orig_time=meas,
        ))  # fmt: skip
    return raw


def write_edf(recording: Any, out: str | os.PathLike, *, fmt: str = "edf") -> Path:
    """Write EDF+ (16-bit) or BDF+ (24-bit) through MNE/edfio, markers as annotations.

    Each channel gets its own physical range (its min..max), so the resolution is
    ``(max - min) / 65534`` µV for EDF and ``/ 16777214`` for BDF.
    """
    import mne

    raw = to_raw(recording)
    long = [n for n in raw.ch_names if len(n) > 16]
    if long:
        raise RecordingError(
            f"{fmt.upper()} channel labels hold at most 16 characters; {long} are longer. "
            "Export FIF instead, or rename the channels."
        )
    out = Path(out)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mne.export.export_raw(out, raw, fmt=fmt, physical_range="channelwise",
                                  overwrite=True, verbose="error")  # fmt: skip
    except OSError as err:
        raise RecordingError(f"cannot write {out}: {err}") from err
    except (ValueError, RuntimeError) as err:
        raise RecordingError(f"cannot export {fmt.upper()}: {err}") from err
    return out


def write_fif(recording: Any, out: str | os.PathLike) -> Path:
    """Write FIF (float64 samples, exact), markers as annotations."""
    out = Path(out)
    raw = to_raw(recording)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "filename does not conform to conventions"
            raw.save(out, fmt="double", overwrite=True, verbose="error")
    except OSError as err:
        raise RecordingError(f"cannot write {out}: {err}") from err
    return out


def _bids_label(text: object, default: str) -> str:
    label = re.sub(r"[^A-Za-z0-9]+", "", str(text or ""))
    return label or default


def write_bids(recording: Any, root: str | os.PathLike) -> Path:
    """Add a recording to a BIDS dataset (EEG as EDF, markers in ``events.tsv``).

    Subject = the user, session = the recording's date (``YYYYMMDD``), task = the exercise
    (``neurofeedback`` when unknown); each export gets the next free run number. The dataset's
    ``dataset_description.json`` and ``README`` are written when missing.

    Returns
    -------
    path : Path
        The EEG file written inside the dataset.
    """
    import mne_bids

    from neurofb import __version__

    root = Path(root)
    meta = getattr(recording, "meta", {}) or {}
    raw = to_raw(recording)
    meas = raw.info["meas_date"]
    subject = _bids_label(meta.get("user"), "01")
    session = meas.astimezone().strftime("%Y%m%d") if meas else None
    task = _bids_label(meta.get("exercise"), "neurofeedback")
    eeg_dir = root / f"sub-{subject}" / (f"ses-{session}" if session else "") / "eeg"
    runs = [int(m[1]) for p in eeg_dir.glob(f"*_task-{task}_run-*_eeg.*")
            if (m := re.search(r"_run-(\d+)_", p.name))]  # fmt: skip
    run = max(runs, default=0) + 1
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "dataset_description.json").exists():
            mne_bids.make_dataset_description(
                path=root, name="neurofb training sessions",
                generated_by=[{"Name": "neurofb", "Version": __version__}], verbose="error",
            )  # fmt: skip
        bids_path = mne_bids.BIDSPath(subject=subject, session=session, task=task, run=run,
                                      datatype="eeg", root=root)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            written = mne_bids.write_raw_bids(raw, bids_path, format="EDF", allow_preload=True,
                                              overwrite=False, verbose="error")  # fmt: skip
    except OSError as err:
        raise RecordingError(f"cannot write the BIDS dataset in {root}: {err}") from err
    except (ValueError, RuntimeError, FileExistsError) as err:
        raise RecordingError(f"cannot export BIDS into {root}: {err}") from err
    return Path(written.fpath)


def _is_eeg(name: str, ch_type: str) -> bool:
    if ch_type != "eeg":
        return False
    first = re.split(r"[\s_:\-]+", name.strip(), maxsplit=1)[0].upper()
    return first not in NOT_EEG


def _read_raw(path: Path, kind: str, shown: Path) -> tuple[Any, list[str]]:
    """Read with MNE; errors name ``shown`` (the user's file; ``path`` may be a link to it)."""
    import mne

    readers = {
        "edf": lambda: mne.io.read_raw_edf(path, preload=True, infer_types=False,
                                           verbose="error"),
        "bdf": lambda: mne.io.read_raw_bdf(path, preload=True, infer_types=False,
                                           verbose="error"),
        "fif": lambda: mne.io.read_raw_fif(path, preload=True, verbose="error"),
    }  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = readers[kind]()
        except MemoryError:
            raise RecordingError(
                f"{shown} claims more samples than fit in memory: its header is damaged"
            ) from None
        except Exception as err:  # MNE/edfio raise many types on damaged files
            raise _damaged(shown, kind, err) from None
    notes = [str(w.message) for w in caught if "pkg_resources" not in str(w.message)]
    return raw, notes


def _damaged(path: Path, kind: str, err: BaseException) -> RecordingError:
    return RecordingError(
        f"{path} is not a readable {kind.upper()} file ({type(err).__name__}: {err}). It is "
        "damaged, truncated or of another format; export it again from the software that "
        "recorded it."
    )


def read_raw_file(path: str | os.PathLike, kind: str) -> Recording:
    """Read an EDF/BDF/FIF file as a Recording (EEG channels only, µV).

    Parameters
    ----------
    path : path-like
        The file.
    kind : {"edf", "bdf", "fif"}
        Its format.

    Returns
    -------
    Recording
        EEG channels only, data (n_ch, n) µV, timestamps (n,) s, markers from the annotations.

    Raises
    ------
    RecordingError
        The file is damaged, truncated, holds no EEG channel or no sample.
    """
    path = Path(path)
    with _mne_name(path, kind) as readable:
        raw, notes = _read_raw(readable, kind, path)
    try:
        return _to_recording(raw, notes, path, kind)
    except RecordingError:
        raise
    except Exception as err:  # a damaged header MNE accepted can fail any later call
        raise _damaged(path, kind, err) from None


@contextlib.contextmanager
def _mne_name(path: Path, kind: str) -> Iterator[Path]:
    """``path``, or a link to it with the extension MNE's reader insists on."""
    name = path.name.lower()
    if name.endswith((".fif", ".fif.gz")) if kind == "fif" else name.endswith(f".{kind}"):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="neurofb-") as tmp:
        link = Path(tmp) / f"data.{kind}"
        try:
            link.symlink_to(path.resolve())
        except OSError:
            shutil.copyfile(path, link)
        yield link


def _to_recording(raw: Any, notes: list[str], path: Path, kind: str) -> Recording:
    sfreq = float(raw.info["sfreq"])
    if not (math.isfinite(sfreq) and sfreq > 0):
        raise RecordingError(f"{path}: the header gives a sampling rate of {sfreq}: damaged")
    types = raw.get_channel_types()
    picks = [i for i, (n, t) in enumerate(zip(raw.ch_names, types, strict=True))
             if _is_eeg(n, t)]  # fmt: skip
    dropped = [raw.ch_names[i] for i in range(len(raw.ch_names)) if i not in picks]
    if not picks:
        raise RecordingError(
            f"{path} holds no EEG channel (channels: {', '.join(raw.ch_names) or 'none'})"
        )
    n = raw.n_times
    anns = raw.annotations
    shift = raw.first_time if anns.orig_time is not None else 0.0
    onsets = np.asarray(anns.onset, dtype=np.float64) - shift
    keep = np.ones(len(anns), dtype=bool)
    for i, (desc, onset, dur) in enumerate(zip(anns.description, onsets, anns.duration,
                                              strict=True)):  # fmt: skip
        # MNE pads EDF exports to whole data records and marks the padding like this.
        if desc == PAD_ANNOTATION and onset > 0 and onset + dur >= n / sfreq - 1e-6:
            n = min(n, int(np.rint(onset * sfreq)))
            keep[i] = False
    if n <= 0:
        raise RecordingError(f"{path} holds no samples")
    data = raw.get_data(picks=picks, stop=n) * 1e6
    if not np.all(np.isfinite(data)):
        raise RecordingError(f"{path} holds non-finite samples: its header is damaged")
    markers: list[Marker] = []
    for desc, onset, dur, k in zip(anns.description, onsets, anns.duration, keep, strict=True):
        if k:
            markers.extend(decode_annotation(str(desc), float(onset), float(dur)))
    meas = raw.info["meas_date"]
    if meas is not None and meas.timestamp() == _EDF_MIN:
        meas = None  # 01.01.85 00:00:00 is how EDF writers (edfio) say "no date"
    t0 = meas.timestamp() + raw.first_time if meas is not None else 0.0
    meta, board = _file_meta(raw, kind)
    if board == kind and kind in ("edf", "bdf"):
        board = _edf_equipment(path) or board
    meta.update(source_format=kind, file=str(path), dropped_channels=dropped)
    if meas is not None:
        meta.setdefault("start_unix", t0)
        meta.setdefault("start_time", dt.datetime.fromtimestamp(t0, dt.UTC).isoformat())
    source = meta.get("source")
    details = {**(source if isinstance(source, dict) else {}), "recording": str(path),
               "format": kind}  # fmt: skip
    info = SourceInfo(ch_names=tuple(raw.ch_names[i] for i in picks), sfreq=sfreq, board=board,
                      live=False, details=details)  # fmt: skip
    return Recording(
        info=info, meta=meta, data=np.ascontiguousarray(data, dtype=np.float64),
        timestamps=t0 + np.arange(n) / sfreq, markers=sorted(markers, key=lambda m: m.t),
        path=path, warnings=notes,
    )  # fmt: skip


def _edf_equipment(path: Path) -> str | None:
    """The equipment code of an EDF+/BDF+ header (``Startdate d admin technician EQUIPMENT``)."""
    try:
        with open(path, "rb") as fh:
            field = fh.read(168)[88:168].decode("ascii", errors="replace").split()
    except OSError:
        return None
    if len(field) >= 5 and field[0] == "Startdate" and field[4] != "X":
        return field[4]
    return None


def _file_meta(raw: Any, kind: str) -> tuple[dict, str]:
    """neurofb metadata carried in the file (FIF description, EDF patient/equipment)."""
    meta: dict = {}
    board = kind
    try:
        stored = json.loads(raw.info.get("description") or "")["neurofb"]
    except (ValueError, TypeError, KeyError):
        stored = None
    if isinstance(stored, dict):
        meta.update({k: v for k, v in stored.items() if k != "board"})
        board = str(stored.get("board") or board)
    subject = raw.info.get("subject_info") or {}
    if subject.get("his_id") and subject["his_id"] != "X":
        meta.setdefault("user", str(subject["his_id"]))
    device = raw.info.get("device_info") or {}
    if board == kind and device.get("type") and device["type"] != "X":
        board = str(device["type"])
    return meta, board
