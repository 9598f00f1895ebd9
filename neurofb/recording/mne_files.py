"""EDF/EDF+/BDF, FIF and BIDS through MNE (and edfio, mne-bids).

Units: recordings hold µV; MNE holds V. :func:`to_raw` scales by 1e-6 and :func:`read_raw_file`
by 1e6, at this boundary only. Every channel is typed ``eeg`` and keeps its name.

Non-finite samples (NaN or ±inf: a burst the amplifier dropped) survive every format. EDF and
BDF store integers, so there they are written as :data:`NONFINITE_FILL` (0 µV) and covered by a
:data:`NONFINITE` annotation (``BAD_nonfinite``, one per run of missing samples; limited to the
channels concerned, which MNE writes as ``BAD_nonfinite@@<channel>``): MNE and EDFbrowser show
the span as bad, and :func:`read_raw_file` turns it back into NaN. FIF keeps them as NaN.

Reading is lazy: the file is opened with ``preload=False`` and :attr:`Recording.data` reads the
samples asked for (``raw.get_data(start, stop)``), so a long file is never loaded whole.

Markers travel as annotations of zero duration whose description encodes the marker
(:func:`encode_marker`): ``kind``, ``kind:label`` or ``kind:label=value`` (``%`` and ``=`` in
labels and characters outside printable ASCII are %-escaped; the value is Python's ``repr`` of
the float, so it survives exactly). Only the engine's kinds (:data:`KINDS`) are read back as
kinds: other text — annotations of other software, ``stim:face`` from PsychoPy — becomes a
``note`` with the whole text as its label, or a ``block_start``/``block_end`` pair when it has a
duration.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
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
from neurofb.recording.base import Recording, TimeSeries, portable_meta
from neurofb.types import MAX_SFREQ, Marker, SourceInfo

log = logging.getLogger(__name__)

#: Marker kinds of the engine (docs/recording-format.md): the only kinds text is decoded as.
KINDS = frozenset({
    "session_start", "session_end", "block_start", "block_end", "reward", "threshold",
    "note", "disconnect", "reconnect", "baseline", "label", "pause", "resume",
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
#: Annotation over samples that were non-finite in the recording (EDF/BDF: filled).
NONFINITE = "BAD_nonfinite"
#: What non-finite samples become in EDF/BDF (µV), under a :data:`NONFINITE` annotation.
NONFINITE_FILL = 0.0


def encode_marker(marker: Marker) -> str:
    """Return the annotation description of a marker (see the module docstring)."""
    text = marker.kind
    if marker.label or marker.value is not None or marker.kind not in KINDS:
        text += ":" + quote(marker.label, safe=_SAFE)
    if marker.value is not None:
        text += "=" + repr(float(marker.value))
    return text


def marker_text(sample: Any) -> str:
    """Return the text of one sample of another program's marker stream (LSL, XDF).

    Parameters
    ----------
    sample : sequence
        The sample's channel values: text (joined by spaces) or numbers — trigger codes, written
        ``5`` (a whole number without decimals) or ``5,7`` for a sample of several channels.

    Returns
    -------
    str
        The text, stripped; :func:`decode_annotation` makes markers of it.
    """
    values = list(sample) if isinstance(sample, list | tuple | np.ndarray) else [sample]
    if any(isinstance(v, str | bytes) for v in values):
        return " ".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                        for v in values).strip()  # fmt: skip
    out = []
    for v in values:
        number = float(v)
        out.append(str(int(number)) if number.is_integer() else str(v))
    return ",".join(out)


def decode_annotation(description: str, onset: float, duration: float) -> list[Marker]:
    """Return the markers an annotation (or a marker's text) stands for.

    Parameters
    ----------
    description : str
        The text: ``kind``, ``kind:label`` or ``kind:label=value`` (see :func:`encode_marker`)
        when ``kind`` is one of :data:`KINDS`; any other text is another program's.
    onset : float
        Seconds since the start of the recording.
    duration : float
        Seconds the annotation lasts (0 for an event).

    Returns
    -------
    list of Marker
        One marker of the text's kind; for other text a ``note`` with the whole text as its
        label, or a ``block_start``/``block_end`` pair when ``duration`` is positive.
    """
    m = _OURS.fullmatch(description)
    if m and m["kind"] in KINDS:
        value = None
        if m["value"] is not None:
            try:
                value = float(m["value"])
            except ValueError:
                value = None
            if value is not None and not math.isfinite(value):
                value = None  # "nan", "inf": not a number a marker can carry (text, then)
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


def _runs(bad: np.ndarray) -> list[tuple[int, int]]:
    """Start and stop sample of each run of True in a 1-d mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[False], bad, [False]]).astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def nonfinite_spans(data: np.ndarray, ch_names: list[str]) -> list[tuple[int, int, list[str]]]:
    """Runs of non-finite samples as ``(start, stop, channels)``; ``channels`` is empty when
    the run is the same on every channel."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return []
    by_run: dict[tuple[int, int], list[str]] = {}
    for i in np.flatnonzero(bad.any(axis=1)):
        for run in _runs(bad[i]):
            by_run.setdefault(run, []).append(ch_names[i])
    return [(a, b, [] if len(chs) == len(ch_names) else chs)
            for (a, b), chs in sorted(by_run.items())]


def to_raw(recording: Any, *, fill_nonfinite: bool = False) -> Any:
    """Return the recording as an MNE RawArray (V, channel type ``eeg``, annotations).

    Parameters
    ----------
    recording : Recording
        Data in µV, shape (n_channels, n_samples).
    fill_nonfinite : bool
        Write non-finite samples as :data:`NONFINITE_FILL` under :data:`NONFINITE`
        annotations (for EDF/BDF, which hold integers); otherwise they stay NaN.
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
    data = np.array(recording.data, dtype=np.float64)
    spans = nonfinite_spans(data, names)
    data[~np.isfinite(data)] = NONFINITE_FILL if fill_nonfinite else np.nan
    raw = mne.io.RawArray(data * 1e-6, info, verbose="error")
    meas = _meas_date(recording)
    raw.set_meas_date(meas)
    sfreq = float(recording.info.sfreq)
    last = (data.shape[1] - 1) / sfreq
    markers = list(recording.markers)
    # A marker at the end of the data (``n / sfreq``, where session_end and a last block_end
    # are stamped: one sample period after the last sample) goes on the last sample unsaid.
    end = data.shape[1] / sfreq + 1e-9
    outside = [m for m in markers if not 0.0 <= m.t <= end]
    if outside:  # an annotation cannot lie outside the data (MNE would drop it)
        log.warning("%d marker(s) outside the recorded samples (the first: %s at %.3f s; the "
                    "samples span 0–%.3f s) are written at the first or last sample; the "
                    "recording's markers.jsonl keeps their times", len(outside),
                    outside[0].kind, outside[0].t, last)
    onsets = list(np.clip([m.t for m in markers], 0.0, last))
    durations = [0.0] * len(markers)
    descriptions = [encode_marker(m) for m in markers]
    channels: list[list[str]] = [[] for _ in markers]
    if fill_nonfinite:
        for a, b, chs in spans:
            onsets.append(a / sfreq)
            durations.append((b - a) / sfreq)
            descriptions.append(NONFINITE)
            channels.append(chs)
    if onsets:
        raw.set_annotations(mne.Annotations(
            onset=onsets, duration=durations, description=descriptions, orig_time=meas,
            ch_names=channels,
        ))  # fmt: skip
    return raw


#: Largest |value| (µV) an EDF/BDF header's 8-character physical minimum/maximum can state.
EDF_MAX_UV = 1e7


def write_edf(recording: Any, out: str | os.PathLike, *, fmt: str = "edf") -> Path:
    """Write EDF+ (16-bit) or BDF+ (24-bit) through MNE/edfio, markers as annotations.

    Each channel gets its own physical range (its min..max), so the resolution is
    ``(max - min) / 65534`` µV for EDF and ``/ 16777214`` for BDF.
    """
    import mne

    raw = to_raw(recording, fill_nonfinite=True)
    long = [n for n in raw.ch_names if len(n) > 16]
    if long:
        raise RecordingError(
            f"{fmt.upper()} channel labels hold at most 16 characters; {long} are longer. "
            "Export FIF instead, or rename the channels."
        )
    # The physical range is written in 8 characters (in µV): larger values cannot be stored.
    peak = np.abs(raw.get_data()).max(initial=0.0) * 1e6
    if not peak < EDF_MAX_UV:
        raise RecordingError(
            f"cannot export {fmt.upper()}: the recording holds values up to {peak:.3g} µV, "
            f"beyond the {EDF_MAX_UV:.0e} µV an {fmt.upper()} header can state (a damaged "
            "recording?). Export FIF instead.")
    raw = _whole_records(raw)
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


def _whole_records(raw: Any) -> Any:
    """At a non-integer rate EDF's data records hold ``floor(sfreq)`` samples each and MNE
    needs whole records: pad the last one with edge values under ``BAD_ACQ_SKIP`` (what MNE
    itself does at integer rates, and what import and replay drop again)."""
    import mne

    sfreq = float(raw.info["sfreq"])
    per_record = math.floor(sfreq)
    pad = -raw.n_times % per_record
    if sfreq.is_integer() or not pad:
        return raw
    padded = mne.io.RawArray(np.pad(raw.get_data(), ((0, 0), (0, pad)), mode="edge"),
                             raw.info, verbose="error")
    skip = mne.Annotations([raw.n_times / sfreq], [pad / sfreq], [PAD_ANNOTATION],
                           orig_time=raw.annotations.orig_time)
    padded.set_annotations(raw.annotations + skip)
    return padded


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

    Raises
    ------
    RecordingError
        The dataset cannot be written; what this export had written is removed again and the
        dataset's tables are restored (no partial dataset is left).
    """
    from neurofb import __version__

    root = Path(root)
    meta = getattr(recording, "meta", {}) or {}
    raw = _whole_records(to_raw(recording, fill_nonfinite=True))  # written as EDF
    with raw.info._unlock():
        raw.info["line_freq"] = _line_freq(recording, meta)  # BIDS PowerLineFrequency
    meas = raw.info["meas_date"]
    subject = _bids_label(meta.get("user"), "01")
    session = meas.astimezone().strftime("%Y%m%d") if meas else None
    task = _bids_label(meta.get("exercise"), "neurofeedback")
    eeg_dir = root / f"sub-{subject}" / (f"ses-{session}" if session else "") / "eeg"
    runs = [int(m[1]) for p in eeg_dir.glob(f"*_task-{task}_run-*_eeg.*")
            if (m := re.search(r"_run-(\d+)_", p.name))]  # fmt: skip
    run = max(runs, default=0) + 1
    terms = {k: str(meta[k]) for k in ("licence", "attribution") if isinstance(meta.get(k), str)}
    with _all_or_nothing(root, root / f"sub-{subject}"):
        written = _write_bids(raw, root, subject, session, task, run, __version__, terms)
    return Path(written.fpath)


def _line_freq(recording: Any, meta: dict) -> float | None:
    """The mains frequency of a recording: its setting when it had one (50 or 60 Hz), else
    what its raw signal shows (as the engine detects it), else None (BIDS ``n/a``)."""
    from neurofb.dsp.mains import detect_line_freq

    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    setting = config.get("line_freq")
    if isinstance(setting, int | float) and not isinstance(setting, bool) and setting in (50, 60):
        return float(setting)
    sfreq = float(recording.info.sfreq)
    data = np.asarray(recording.data[:, : round(10 * sfreq)], dtype=float)
    if data.shape[1] < sfreq or not np.isfinite(data).all():
        return None
    return detect_line_freq(data, sfreq)


@contextlib.contextmanager
def _all_or_nothing(root: Path, subject_dir: Path) -> Iterator[None]:
    """Undo a failed BIDS export: remove what it created, restore the dataset files it changed.

    mne-bids writes several files (the EDF, sidecars, events.tsv, and updates participants.tsv
    and scans.tsv); a failure half-way (a full disk) must not leave a partial dataset.
    """
    existed = root.exists()
    before: set[Path] = set(root.rglob("*")) if existed else set()
    saved: dict[Path, bytes] = {}
    tables = [*root.glob("*"), *subject_dir.rglob("*")] if existed else []
    for p in tables:  # the small tables mne-bids updates in place
        if p.is_file() and p.suffix in (".tsv", ".json") and p.stat().st_size < 1 << 24:
            with contextlib.suppress(OSError):
                saved[p] = p.read_bytes()
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(root, ignore_errors=True)
            raise
        for p in sorted(set(root.rglob("*")) - before, key=lambda q: len(q.parts), reverse=True):
            with contextlib.suppress(OSError):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        for p, content in saved.items():
            with contextlib.suppress(OSError):
                if p.read_bytes() != content:
                    p.write_bytes(content)
        raise


def _write_bids(raw: Any, root: Path, subject: str, session: str | None, task: str, run: int,
                version: str, terms: dict[str, str]) -> Any:
    """``terms``: the recording's ``licence`` and ``attribution``, written into a new
    dataset's description (License, HowToAcknowledge) so a derived copy keeps its credit."""
    import mne_bids

    try:
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "dataset_description.json").exists():
            mne_bids.make_dataset_description(
                path=root, name="neurofb training sessions",
                generated_by=[{"Name": "neurofb", "Version": version}], verbose="error",
                data_license=terms.get("licence"), how_to_acknowledge=terms.get("attribution"),
            )  # fmt: skip
        bids_path = mne_bids.BIDSPath(subject=subject, session=session, task=task, run=run,
                                      datatype="eeg", root=root)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            written = mne_bids.write_raw_bids(raw, bids_path, format="EDF", allow_preload=True,
                                              overwrite=False, verbose="error")  # fmt: skip
    except OSError as err:
        raise RecordingError(f"cannot write the BIDS dataset in {root}: {err}; nothing of this "
                             "export was kept") from err
    except (ValueError, RuntimeError, FileExistsError) as err:
        raise RecordingError(f"cannot export BIDS into {root}: {err}; nothing of this export "
                             "was kept") from err
    return written


def _is_eeg(name: str, ch_type: str) -> bool:
    if ch_type != "eeg":
        return False
    words = re.split(r"[\s_:\-]+", name.strip().upper())
    if len(words) > 1 and words[0] == "EEG":  # "EEG EKG1-REF": a type prefix, not the name
        words = words[1:]
    return words[0].rstrip("0123456789") not in NOT_EEG  # ECG1, EOG2 and EMG3 too


def _read_raw(path: Path, kind: str, shown: Path) -> tuple[Any, list[str]]:
    """Read with MNE; errors name ``shown`` (the user's file; ``path`` may be a link to it)."""
    import mne

    readers = {
        "edf": lambda enc: mne.io.read_raw_edf(path, preload=False, infer_types=False,
                                               encoding=enc, verbose="error"),
        "bdf": lambda enc: mne.io.read_raw_bdf(path, preload=False, infer_types=False,
                                               encoding=enc, verbose="error"),
        "fif": lambda _enc: mne.io.read_raw_fif(path, preload=False, verbose="error"),
    }  # fmt: skip
    latin1 = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            try:
                raw = readers[kind]("utf8")
            except Exception as err:
                if kind == "fif" or "encoding" not in str(err):
                    raise
                raw = readers[kind]("latin1")  # annotations in an older 8-bit encoding
                latin1 = [f"{shown.name}'s annotations are not UTF-8: read as Latin-1"]
        except MemoryError:
            raise RecordingError(
                f"{shown} claims more samples than fit in memory: its header is damaged"
            ) from None
        except Exception as err:  # MNE/edfio raise many types on damaged files
            raise _damaged(shown, kind, err) from None
    notes = [str(w.message) for w in caught if "pkg_resources" not in str(w.message)
             and "does not match the file size" not in str(w.message)]  # said better below
    return raw, notes + latin1


def _damaged(path: Path, kind: str, err: BaseException) -> RecordingError:
    return RecordingError(
        f"{path} is not a readable {kind.upper()} file ({type(err).__name__}: {err}). It is "
        "damaged, truncated or of another format; export it again from the software that "
        "recorded it."
    )


def read_raw_file(path: str | os.PathLike, kind: str) -> Recording:
    """Read an EDF/BDF/FIF file as a Recording (EEG channels only, µV), lazily.

    Parameters
    ----------
    path : path-like
        The file.
    kind : {"edf", "bdf", "fif"}
        Its format.

    Returns
    -------
    Recording
        EEG channels only; ``data`` (n_ch, n) µV and ``timestamps`` (n,) s are
        :class:`~neurofb.recording.base.TimeSeries` read from the file on demand; markers from
        the annotations; :data:`NONFINITE` spans read as NaN. A file shorter than its header
        says is read as far as it goes, with a warning.

    Raises
    ------
    RecordingError
        The file is damaged, truncated, holds no EEG channel or no sample.
    """
    path = Path(path)
    keep, readable = _mne_name(path, kind)
    try:
        raw, notes = _read_raw(readable, kind, path)
        if kind in ("edf", "bdf"):
            notes = [*truncation_notes(path, kind), *notes]
        return _to_recording(raw, notes, path, kind, keep)
    except RecordingError:
        if keep is not None:
            keep.cleanup()
        raise
    except Exception as err:  # a damaged header MNE accepted can fail any later call
        if keep is not None:
            keep.cleanup()
        raise _damaged(path, kind, err) from None


def _mne_name(path: Path, kind: str) -> tuple[tempfile.TemporaryDirectory | None, Path]:
    """``path``, or a link to it with the extension MNE's reader insists on (in a temporary
    folder that lives as long as the recording read through it)."""
    name = path.name.lower()
    if name.endswith((".fif", ".fif.gz")) if kind == "fif" else name.endswith(f".{kind}"):
        return None, path
    tmp = tempfile.TemporaryDirectory(prefix="neurofb-")
    link = Path(tmp.name) / f"data.{kind}"
    try:
        link.symlink_to(path.resolve())
    except OSError:
        shutil.copyfile(path, link)
    return tmp, link


def truncation_notes(path: Path, kind: str) -> list[str]:
    """A warning when an EDF/BDF file holds fewer data records than its header lists.

    Parameters
    ----------
    path : Path
        The file.
    kind : {"edf", "bdf"}
        Its format.

    Returns
    -------
    list of str
        One line saying how much of the recording the file holds, or nothing.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
            ns = int(head[252:256].decode("ascii").strip())
            n_records = int(head[236:244].decode("ascii").strip())
            duration = float(head[244:252].decode("ascii").strip())
            fh.seek(256 + ns * 216)
            per_record = sum(int(fh.read(8).decode("ascii").strip()) for _ in range(ns))
        size = path.stat().st_size
    except (OSError, ValueError, UnicodeDecodeError):
        return []  # MNE has read the header; a field it tolerates is not ours to judge
    record_bytes = per_record * (3 if kind == "bdf" else 2)
    if n_records <= 0 or record_bytes <= 0 or duration <= 0:
        return []
    held = (size - 256 * (ns + 1)) // record_bytes
    if held >= n_records:
        return []
    return [f"{path.name} holds {max(held, 0) * duration:.1f} s of the "
            f"{n_records * duration:.1f} s its header lists: the file was truncated; reading "
            "what is there"]


def _nonfinite_spans(anns: Any, onsets: np.ndarray, sfreq: float, names: list[str]
                     ) -> list[tuple[int, int, np.ndarray | None]]:
    spans = []
    for desc, onset, dur, chs in zip(anns.description, onsets, anns.duration, anns.ch_names,
                                     strict=True):  # fmt: skip
        if desc != NONFINITE:
            continue
        a = int(np.rint(onset * sfreq))
        b = a + max(1, int(np.rint(dur * sfreq)))
        rows = None if not len(chs) else np.array([names.index(c) for c in chs if c in names])
        if rows is None or rows.size:
            spans.append((a, b, rows))
    return spans


def _to_recording(raw: Any, notes: list[str], path: Path, kind: str, keep: Any) -> Recording:
    sfreq = float(raw.info["sfreq"])
    if not (math.isfinite(sfreq) and 0 < sfreq <= MAX_SFREQ):
        raise RecordingError(f"{path}: the header gives a sampling rate of {sfreq:g} Hz: damaged")
    types = raw.get_channel_types()
    picks = [i for i, (n, t) in enumerate(zip(raw.ch_names, types, strict=True))
             if _is_eeg(n, t)]  # fmt: skip
    dropped = [raw.ch_names[i] for i in range(len(raw.ch_names)) if i not in picks]
    if not picks:
        raise RecordingError(
            f"{path} holds no EEG channel (channels: {', '.join(raw.ch_names) or 'none'})"
        )
    names = [raw.ch_names[i] for i in picks]
    n = raw.n_times
    anns = raw.annotations
    shift = raw.first_time if anns.orig_time is not None else 0.0
    onsets = np.asarray(anns.onset, dtype=np.float64) - shift
    keep_ann = np.array([d != NONFINITE for d in anns.description], dtype=bool)
    for i, (desc, onset, dur) in enumerate(zip(anns.description, onsets, anns.duration,
                                              strict=True)):  # fmt: skip
        # MNE pads EDF exports to whole data records and marks the padding like this.
        if desc == PAD_ANNOTATION and onset > 0 and onset + dur >= n / sfreq - 1e-6:
            n = min(n, int(np.rint(onset * sfreq)))
            keep_ann[i] = False
    if n <= 0:
        raise RecordingError(f"{path} holds no samples")
    spans = _nonfinite_spans(anns, onsets, sfreq, names)
    first = raw.get_data(picks=picks, start=0, stop=min(n, max(1, int(10 * sfreq))))
    if kind in ("edf", "bdf") and not np.all(np.isfinite(first)):
        # EDF/BDF hold integers: a non-finite value can only come from a damaged header.
        raise RecordingError(f"{path} holds non-finite samples: its header is damaged")

    def read(start: int, stop: int) -> np.ndarray:
        try:
            x = raw.get_data(picks=picks, start=start, stop=stop) * 1e6
        except Exception as err:  # the file changed or is damaged past its start
            raise RecordingError(f"cannot read samples {start}:{stop} of {path} "
                                 f"({type(err).__name__}: {err})") from None
        x[~np.isfinite(x)] = np.nan
        for a, b, rows in spans:
            lo, hi = max(a, start), min(b, stop)
            if lo < hi:
                x[(slice(None) if rows is None else rows), lo - start : hi - start] = np.nan
        return x

    markers: list[Marker] = []
    for desc, onset, dur, k in zip(anns.description, onsets, anns.duration, keep_ann,
                                   strict=True):  # fmt: skip
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
    info = SourceInfo(ch_names=tuple(names), sfreq=sfreq, board=board, live=False,
                      details=details)  # fmt: skip
    data = TimeSeries(read, (len(picks), n), keep=(raw, keep))
    timestamps = TimeSeries(lambda a, b: t0 + np.arange(a, b) / sfreq, (n,))
    return Recording(
        info=info, meta=meta, data=data, timestamps=timestamps,
        markers=sorted(markers, key=lambda m: m.t), path=path, warnings=notes,
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
