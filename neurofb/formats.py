"""Import and export of recordings: EDF/EDF+/BDF, FIF, BrainFlow CSV and BIDS.

- :func:`read_file` reads an EDF/EDF+/BDF, FIF or BrainFlow CSV file as a
  :class:`~neurofb.recording.Recording` (EEG channels only, names kept, µV; annotations →
  markers). The format is recognised from the file's first bytes, then its extension.
- :func:`export` writes a recording as EDF+ or BDF+ (MNE/edfio), FIF (MNE), BrainFlow CSV (the
  board's own layout, playable by BrainFlow's playback board) or into a BIDS dataset (mne-bids).
- :func:`import_file` converts a file into a neurofb recording folder.

Every damaged, truncated, empty or mislabelled file gives a :class:`~neurofb.errors.RecordingError`
that names the file and what is wrong — never a traceback from MNE, edfio or BrainFlow.
The format details live in :mod:`neurofb.formats_mne` and :mod:`neurofb.formats_brainflow`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from neurofb.errors import RecordingError
from neurofb.types import Chunk, SourceInfo

__all__ = [
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "detect_format",
    "export",
    "import_file",
    "read_file",
]

#: Formats :func:`export` writes.
EXPORT_FORMATS: tuple[str, ...] = ("edf", "bdf", "fif", "csv", "bids")
#: Formats :func:`read_file` reads.
IMPORT_FORMATS: tuple[str, ...] = ("edf", "bdf", "fif", "csv")
#: File extension of each exported file format.
SUFFIX = {"edf": ".edf", "bdf": ".bdf", "fif": "_raw.fif", "csv": ".csv"}

_EXTENSIONS = {
    ".edf": "edf", ".rec": "edf", ".bdf": "bdf", ".fif": "fif", ".csv": "csv", ".txt": "csv",
    ".tsv": "csv",
}  # fmt: skip


def _by_extension(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".fif.gz"):
        return "fif"
    return _EXTENSIONS.get(path.suffix.lower())


def _sniff(head: bytes) -> str | None:
    """The format the first bytes of a file show, or None."""
    if head.startswith(b"0       "):
        return "edf"
    if head.startswith(b"\xffBIOSEMI"):
        return "bdf"
    if head.startswith(b"\x00\x00\x00\x64") or head.startswith(b"\x1f\x8b"):
        return "fif"  # FIFF_FILE_ID tag first; or gzip (.fif.gz)
    try:
        first = head.split(b"\n", 1)[0].decode("ascii").strip()
        cells = first.split("\t")
        if len(cells) >= 2:
            [float(c) for c in cells]
            return "csv"
    except (UnicodeDecodeError, ValueError):
        pass
    return None


def detect_format(path: str | os.PathLike) -> str:
    """Return the format of a file (``"edf"``, ``"bdf"``, ``"fif"`` or ``"csv"``).

    The file's first bytes decide; the extension is used when they show nothing known.

    Raises
    ------
    RecordingError
        The file is missing, empty, a folder, or of no known format.
    """
    p = Path(path)
    if p.is_dir():
        raise RecordingError(f"{p} is a folder; open neurofb recording folders with "
                             "open_recording (or `neurofb replay`)")  # fmt: skip
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise RecordingError(f"{p} does not exist") from None
    except OSError as err:
        raise RecordingError(f"cannot read {p}: {err.strerror or err}") from None
    if not head:
        raise RecordingError(f"{p} is empty (0 bytes): it holds no recording")
    kind = _sniff(head) or _by_extension(p)
    if kind is None:
        raise RecordingError(
            f"{p} is of no format neurofb reads: expected EDF/EDF+ (.edf), BDF (.bdf), "
            "FIF (.fif) or a BrainFlow CSV (.csv, tab-separated)"
        )
    return kind


def read_file(path: str | os.PathLike, *, board: str | int | None = None) -> Any:
    """Read an EDF/EDF+/BDF, FIF or BrainFlow CSV file as a Recording.

    Parameters
    ----------
    path : path-like
        The file.
    board : str or int, optional
        For BrainFlow CSV files: the board that wrote it (BrainFlow name or id). Default: the
        board named in the file's ``.neurofb.json`` sidecar, else ``synthetic``.

    Returns
    -------
    recording : neurofb.recording.Recording
        EEG channels only (ECG, EOG, status, ... dropped; names kept as in the file), data in
        µV, shape (n_channels, n_samples); timestamps in seconds (Unix time when the file has
        a start date); markers from the annotations (or the CSV's marker row/sidecar).

    Raises
    ------
    RecordingError
        The file is missing, empty, damaged, truncated beyond use, of an unknown format, or
        holds no EEG channel.
    """
    from neurofb.recording import Recording

    p = Path(path)
    kind = detect_format(p)
    warnings: list[str] = []
    ext = _by_extension(p)
    if ext is not None and ext != kind:
        warnings.append(f"{p.name} holds {kind.upper()} data despite its extension; "
                        f"read as {kind.upper()}")  # fmt: skip
    if kind == "csv":
        from neurofb.formats_brainflow import read_csv

        parts = read_csv(p, board=board)
        extra = {"board_id": parts["board_id"], "master_board": parts["board_id"]}
    else:
        from neurofb.formats_mne import read_raw_file

        parts = read_raw_file(p, kind)
        source = parts["meta"].get("source")
        extra = dict(source) if isinstance(source, dict) else {}
    warnings += parts["warnings"]
    extra.update(live=False, recording=str(p), format=kind)
    info = SourceInfo(
        ch_names=tuple(parts["ch_names"]), sfreq=float(parts["sfreq"]),
        board=str(parts["board"]), unit="uV", extra=extra,
    )  # fmt: skip
    meta = {**parts["meta"], "source_format": kind, "file": str(p)}
    return Recording(
        info=info, meta=meta, data=parts["data"], timestamps=parts["timestamps"],
        markers=list(parts["markers"]), trace=[], path=p, warnings=warnings,
    )  # fmt: skip


def _as_recording(recording: Any) -> Any:
    if isinstance(recording, str | os.PathLike):
        from neurofb.recording import open_recording

        return open_recording(recording)
    return recording


def export(
    recording: Any,
    fmt: str,
    out: str | os.PathLike,
    *,
    board: str | int | None = None,
    overwrite: bool = False,
) -> Path:
    """Export a recording to another format.

    Parameters
    ----------
    recording : Recording or path-like
        The recording (or a path :func:`neurofb.recording.open_recording` opens).
    fmt : {"edf", "bdf", "fif", "csv", "bids"}
        EDF+ (16-bit), BDF+ (24-bit), FIF (float64), BrainFlow CSV, or a BIDS dataset.
    out : path-like
        File to write; for ``"bids"`` the dataset's root folder (created or added to).
    board : str or int, optional
        For ``"csv"``: the board layout to write (default: the recording's own board, else
        ``synthetic`` when its channels and rate fit).
    overwrite : bool
        Replace an existing file (never needed for BIDS, where each export is a new run).

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    RecordingError
        The output exists (without ``overwrite``), cannot be written, or the recording does
        not fit the format (EDF labels over 16 characters, no BrainFlow board layout fits).
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"fmt must be one of {EXPORT_FORMATS}, got {fmt!r}")
    rec = _as_recording(recording)
    out = Path(out)
    if fmt == "bids":
        if out.exists() and not out.is_dir():
            raise RecordingError(f"BIDS root {out} is a file; give a folder")
        from neurofb.formats_mne import write_bids

        return write_bids(rec, out)
    if out.is_dir():
        raise RecordingError(f"{out} is a folder; give the {fmt.upper()} file to write")
    if out.exists() and not overwrite:
        raise RecordingError(f"{out} exists; choose another name or allow overwriting (--force)")
    if not out.parent.is_dir():
        raise RecordingError(f"folder {out.parent} does not exist; create it first")
    if fmt == "csv":
        from neurofb.formats_brainflow import write_csv

        return write_csv(rec, out, board=board)
    from neurofb.formats_mne import write_edf, write_fif

    if fmt == "fif":
        return write_fif(rec, out)
    return write_edf(rec, out, fmt=fmt)


def import_file(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    board: str | int | None = None,
    chunk_s: float = 10.0,
) -> Path:
    """Convert an EDF/BDF/FIF/BrainFlow CSV file into a neurofb recording folder.

    Parameters
    ----------
    path : path-like
        The file to import.
    out : path-like, optional
        The recording folder to create. An existing folder (not a recording) gets the new
        recording inside, named after the file. Default: a new folder under
        ``<data dir>/recordings``.
    board : str or int, optional
        For BrainFlow CSV files: the board that wrote it.
    chunk_s : float
        Seconds of samples handed to the writer at a time.

    Returns
    -------
    folder : Path
        The new recording folder.

    Raises
    ------
    RecordingError
        The file cannot be read, or the folder exists already or cannot be written.
    """
    from neurofb.recording import RecordingWriter, new_recording_path

    if not chunk_s > 0:
        raise ValueError(f"chunk_s must be positive, got {chunk_s}")
    rec = read_file(path, board=board)
    stem = Path(path).name.split(".")[0] or "import"
    if out is None:
        folder = new_recording_path(label=stem)
    else:
        folder = Path(out)
        if folder.is_dir() and not (folder / "meta.json").exists():
            folder = folder / stem
    reserved = {"format", "format_version", "board", "ch_names", "sfreq", "unit", "dtype",
                "byte_order", "columns", "timestamp_offset", "files", "complete",
                "interrupted", "n_samples", "source", "file"}  # fmt: skip
    meta = {k: v for k, v in rec.meta.items() if k not in reserved}
    meta["imported_from"] = str(Path(path).resolve())
    writer = RecordingWriter(folder, rec.info, meta=meta)
    try:
        step = max(1, int(chunk_s * rec.info.sfreq))
        for start in range(0, rec.n_samples, step):
            stop = min(start + step, rec.n_samples)
            writer.write_chunk(Chunk(
                data=rec.data[:, start:stop], timestamps=rec.timestamps[start:stop],
                ch_names=rec.info.ch_names, sfreq=rec.info.sfreq, first_sample=start,
                board=rec.info.board,
            ))  # fmt: skip
        for marker in rec.markers:
            writer.write_marker(marker)
    finally:
        writer.close()
    if writer.error is not None:
        raise RecordingError(writer.error)
    return folder
