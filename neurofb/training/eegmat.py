"""The eegmat adapter: PhysioNet "EEG During Mental Arithmetic Tasks" as labelled windows.

``SubjectNN_1.edf`` is background EEG (rest, class 0, ~180 s), ``SubjectNN_2.edf`` serial
subtraction (task, class 1, 60 s); 19 EEG channels at 500 Hz (old 10-20 names, linked-ear
reference). Data: Zyma I. et al., Data 2019; 4(1):14, doi:10.3390/data4010014, PhysioNet,
Open Data Commons Attribution licence v1.0 — credit them wherever the data or a model trained on
it ships.

Each file is read with :func:`mne.io.read_raw_edf`, its 19 EEG channels picked and converted to
µV, filtered and windowed as the live engine does, and turned into the focus model's features at
the recording's own rate (:mod:`neurofb.training.windows`); BrainFlow concentration is computed
from the same windows for the evaluated layouts. The features of each subject are cached as an
.npz keyed by the files' SHA-256 and every windowing parameter, so the EDF files are decoded
once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from neurofb.config import EngineConfig
from neurofb.dsp import montage
from neurofb.errors import NeurofbError
from neurofb.focus.card import sha256_file
from neurofb.recording.mne_files import truncation_notes
from neurofb.training.layouts import LAYOUTS, layout_channels
from neurofb.training.windows import (
    WINDOWS_VERSION,
    FeatureSet,
    concat,
    cut_features,
    filter_description,
    filter_like_engine,
    load_npz,
    save_npz,
    window_starts,
    windows_at,
)

logger = logging.getLogger(__name__)

#: Training class of each eegmat file suffix.
CLASS_OF_RUN = {1: 0, 2: 1}
CITATION = ("Zyma I, Tukaev S, Seleznov I, Kiyono K, Popov A, Chernykh M, Shpenkov O. "
            "Electroencephalograms during Mental Arithmetic Task Performance. Data. 2019; "
            "4(1):14. doi:10.3390/data4010014. PhysioNet. Open Data Commons Attribution "
            "License v1.0.")
_FILE = re.compile(r"^Subject(\d+)_([12])\.edf$", re.IGNORECASE)


class DatasetError(NeurofbError):
    """A dataset folder is missing, incomplete or unreadable."""


def _scan(eegmat_dir: str | os.PathLike) -> dict[int, dict[int, Path]]:
    """Every SubjectNN_R.edf of a folder: subject → {run: file}, complete or not."""
    folder = Path(eegmat_dir)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DatasetError(f"eegmat folder {folder} {what}; pass the folder holding "
                           f"SubjectNN_1.edf / SubjectNN_2.edf")
    found: dict[int, dict[int, Path]] = {}
    for path in folder.iterdir():
        m = _FILE.match(path.name)
        if m:
            found.setdefault(int(m.group(1)), {})[int(m.group(2))] = path
    return dict(sorted(found.items()))


def file_subject(name: str) -> int | None:
    """The subject number of an eegmat file name (``Subject07_2.edf`` → 7), or None."""
    m = _FILE.match(Path(name).name)
    return int(m.group(1)) if m else None


def _missing(found: dict[int, dict[int, Path]]) -> dict[int, str]:
    """Subject → the name of its missing file, for the subjects that have only one of two."""
    out = {}
    for s, files in found.items():
        if len(files) == 1:
            (run, path), = files.items()
            out[s] = re.sub(r"_[12](\.edf)$", f"_{3 - run}\\1", path.name, flags=re.IGNORECASE)
    return out


def find_subjects(eegmat_dir: str | os.PathLike) -> dict[int, dict[int, Path]]:
    """The complete subjects of an eegmat folder: subject → {1: rest file, 2: task file}.

    Raises
    ------
    DatasetError
        When the folder does not exist or holds no complete subject.
    """
    found = _scan(eegmat_dir)
    complete = {s: f for s, f in found.items() if set(f) == {1, 2}}
    if not complete:
        lacking = list(_missing(found).values())
        raise DatasetError(f"no complete eegmat subject (SubjectNN_1.edf + SubjectNN_2.edf) "
                           f"in {eegmat_dir}" + (f"; missing: {', '.join(lacking)}"
                                                 if lacking else ""))
    return complete


def choose_subjects(eegmat_dir: str | os.PathLike, subjects: Sequence[int] | str | None, *,
                    warn: Callable[[str], None] | None = None) -> list[int]:
    """The complete subjects a ``--subjects`` value picks, naming the files that are missing.

    Parameters
    ----------
    eegmat_dir : path-like
        The eegmat folder.
    subjects : sequence of int or str, optional
        Subject numbers or a ``--subjects`` string; None = every complete subject.
    warn : callable(str), optional
        Told, per missing file, that a subject with only one of its two files is left out
        when ``subjects`` is None (default: a logged warning).

    Returns
    -------
    list of int

    Raises
    ------
    DatasetError
        When a chosen subject is not in the folder or lacks one of its two files (the message
        names the file), or the folder holds no complete subject.
    """
    warn = warn or logger.warning
    found = _scan(eegmat_dir)
    missing = _missing(found)
    chosen = parse_subjects(subjects, list(found))
    lacking = {s: missing[s] for s in chosen if s in missing}
    everyone = subjects is None or (isinstance(subjects, str) and subjects in ("", "all"))
    if lacking and not everyone:
        raise DatasetError(
            f"{', '.join(lacking.values())} {'is' if len(lacking) == 1 else 'are'} missing from "
            f"{eegmat_dir}: each subject needs its rest (SubjectNN_1.edf) and task "
            "(SubjectNN_2.edf) recordings; restore the file or leave the subject out of "
            "--subjects")
    for s, name in lacking.items():
        warn(f"{name} is missing from {eegmat_dir}: subject {s} is left out")
    complete = [s for s in chosen if s not in missing]
    if not complete:
        find_subjects(eegmat_dir)  # raises, naming the missing files
    return complete


def parse_subjects(text: str | Sequence[int] | None, available: Sequence[int]) -> list[int]:
    """Parse ``--subjects`` (``"0,1,5"`` or ``"0-5,9"``; None = all) against what exists.

    Raises
    ------
    DatasetError
        When a subject is not in the folder.
    """
    if text is None or text == "" or text == "all":
        return sorted(available)
    if isinstance(text, str):
        out: list[int] = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if not re.fullmatch(r"\d+(-\d+)?", part):
                raise DatasetError(f"bad subject list {text!r}: use numbers like 0,1,5 or 0-5")
            lo, _, hi = part.partition("-")
            if int(hi or lo) < int(lo):
                raise DatasetError(f"bad subject range {part!r} in {text!r}: write the lower "
                                   f"number first ({hi}-{lo})")
            out += list(range(int(lo), int(hi or lo) + 1))
        if not out:
            raise DatasetError(f"no subject in {text!r}: use numbers like 0,1,5 or 0-5")
    else:
        out = [int(s) for s in text]
    missing = sorted(set(out) - set(available))
    if missing:
        raise DatasetError(f"subjects {missing} are not in the eegmat folder (it has "
                           f"{sorted(available)})")
    return sorted(set(out))


def _read_edf(path: Path) -> tuple[np.ndarray, float, tuple[str, ...]]:
    """The EEG electrodes of an EDF file in µV: (data (n_ch, n), sfreq, canonical names)."""
    import mne

    try:
        raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
    except (OSError, ValueError, RuntimeError) as err:
        raise DatasetError(f"cannot read {path}: {err}") from None
    names, idx, _ = montage.match(raw.ch_names)
    data = raw.get_data(picks=[raw.ch_names[i] for i in idx]) * 1e6  # V → µV
    return data, float(raw.info["sfreq"]), names


def _cache_key(hashes: dict[int, str], params: dict) -> str:
    blob = json.dumps({"hashes": hashes, "params": params, "v": WINDOWS_VERSION},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _brainflow(filtered: np.ndarray, sfreq: float, starts: np.ndarray, window_s: float,
               names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """BrainFlow concentration of every window on each evaluated layout."""
    from neurofb.training.baselines import concentration_scores

    out = {}
    for layout in LAYOUTS:
        idx = [names.index(c) for c in layout_channels(names, layout)]
        out[layout] = np.concatenate([
            concentration_scores(windows_at(filtered[idx], sfreq, block, window_s=window_s),
                                 sfreq)
            for block in np.array_split(starts, max(1, starts.size // 256))])
    return out


def load_subject(eegmat_dir: str | os.PathLike, subject: int, *, window_s: float = 2.0,
                 hop_s: float = 1.0, config: EngineConfig = EngineConfig(),
                 cache_dir: str | os.PathLike | None = None,
                 warn: Callable[[str], None] | None = None) -> FeatureSet:
    """Features of every window of one subject's rest and task recordings.

    Parameters
    ----------
    eegmat_dir : path-like
        The eegmat folder.
    subject : int
        Subject number (NN of SubjectNN_1.edf).
    window_s, hop_s : float
        Window length and step in seconds.
    config : EngineConfig
        The engine's filter settings (band-pass, line frequency).
    cache_dir : path-like, optional
        Where to keep .npz caches (None: no cache).
    warn : callable(str), optional
        Told when a file holds less than its header lists (it was truncated: what is there
        is read, as ``neurofb replay`` and ``import`` do); default: a logged warning.

    Returns
    -------
    FeatureSet
        Every window of both recordings as one session — rest first, the task recording's
        times following the rest's end — with BrainFlow concentration on the ``full``,
        ``cyton`` and ``muse`` layouts.
    """
    files = find_subjects(eegmat_dir).get(int(subject))
    if files is None:
        raise DatasetError(f"subject {subject} is not in {eegmat_dir}")
    for run in (1, 2):  # said on every load, cached or not
        for note in truncation_notes(files[run], "edf"):
            (warn or logger.warning)(note)
    hashes = {run: sha256_file(p) for run, p in files.items()}
    params = {"window_s": window_s, "hop_s": hop_s, "filter": filter_description(config)}
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"eegmat-{subject:02d}-{_cache_key(hashes, params)}.npz"
        if cache.is_file():
            try:
                return load_npz(cache)
            except (OSError, ValueError, KeyError) as err:
                logger.warning("ignoring unreadable cache %s: %s", cache, err)
    parts = []
    offset_s = 0.0  # the task recording follows the rest one: one session, one clock
    for run in (1, 2):
        data, native, names = _read_edf(files[run])
        filtered = filter_like_engine(data, native, config)
        starts = window_starts(filtered.shape[1], native, window_s=window_s, hop_s=hop_s)
        X = cut_features(filtered, native, starts, window_s=window_s)
        n = len(X)
        parts.append(FeatureSet(
            X=X, y=np.full(n, CLASS_OF_RUN[run], np.int64),
            subject=np.full(n, int(subject), np.int64), t=offset_s + starts / native,
            ch_names=names,
            window_s=window_s, brainflow=_brainflow(filtered, native, starts, window_s, names),
            files=[{"file": files[run].name, "sha256": hashes[run], "label": CLASS_OF_RUN[run],
                    "sfreq": native, "n_windows": n, "starts_at_s": offset_s}]))
        offset_s += filtered.shape[1] / native
    fs = concat(parts)
    if cache is not None:
        save_npz(cache, fs)
    return fs


def load_eegmat(eegmat_dir: str | os.PathLike, subjects: Sequence[int] | str | None = None, *,
                window_s: float = 2.0, hop_s: float = 1.0,
                config: EngineConfig = EngineConfig(),
                cache_dir: str | os.PathLike | None = None,
                progress: Callable[[int, int], None] | None = None,
                warn: Callable[[str], None] | None = None) -> FeatureSet:
    """Features of several eegmat subjects (see :func:`load_subject`).

    Parameters
    ----------
    subjects : sequence of int or str, optional
        Subject numbers or a ``--subjects`` string; None = every complete subject in the
        folder (see :func:`choose_subjects`).
    progress : callable(done, total), optional
        Called after each subject.
    warn : callable(str), optional
        Told of each truncated file and each subject left out for a missing file (default: a
        logged warning); a truncated file is read as far as it goes.
    """
    chosen = choose_subjects(eegmat_dir, subjects, warn=warn)
    sets = []
    for i, s in enumerate(chosen):
        sets.append(load_subject(eegmat_dir, s, window_s=window_s, hop_s=hop_s,
                                 config=config, cache_dir=cache_dir, warn=warn))
        if progress is not None:
            progress(i + 1, len(chosen))
    return concat(sets)


def dataset_description(ws: FeatureSet, eegmat_dir: str | os.PathLike | None = None) -> dict:
    """The ``training.data`` section of model.json for eegmat windows."""
    return {
        "dataset": "eegmat (PhysioNet EEG During Mental Arithmetic Tasks)",
        "citation": CITATION,
        "licence": "ODC-By-1.0",
        "folder": str(eegmat_dir) if eegmat_dir is not None else None,
        "subjects": ws.subjects,
        "windows": len(ws),
        "windows_rest": int((ws.y == 0).sum()),
        "windows_task": int((ws.y == 1).sum()),
        "files": ws.files,
    }
