"""Import and export of recordings: EDF/EDF+/BDF, FIF, BrainFlow CSV, XDF, OpenBCI GUI, Muse CSV.

- :func:`open_recording` opens any recording: a neurofb folder or a file.
- :func:`read_file` reads an EDF/EDF+/BDF, FIF, BrainFlow CSV, XDF (LabRecorder), OpenBCI GUI
  raw text, Mind Monitor or muselsl CSV file as a :class:`~neurofb.recording.base.Recording`
  (EEG channels only, names kept, µV; annotations and marker streams → markers). The format is
  recognised from the file's first bytes, then its extension.
- :func:`export` writes a recording as EDF+ or BDF+ (MNE/edfio), FIF (MNE), BrainFlow CSV (the
  board's own layout, playable by BrainFlow's playback board) or into a BIDS dataset (mne-bids).
- :func:`import_file` converts a file into a neurofb recording folder.

Every damaged, truncated, empty or mislabelled file gives a :class:`~neurofb.errors.RecordingError`
that names the file and what is wrong — never a traceback from MNE, edfio or BrainFlow.
The format details live in :mod:`neurofb.recording.mne_files`,
:mod:`neurofb.recording.brainflow_csv` (and :mod:`~neurofb.recording.board_guess` for a CSV that
names no board), :mod:`neurofb.recording.xdf`, :mod:`neurofb.recording.openbci_txt` and
:mod:`neurofb.recording.muse_csv`.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

from neurofb import paths
from neurofb.errors import RecordingError
from neurofb.recording.base import META, Recording
from neurofb.recording.board_guess import guess_board
from neurofb.recording.brainflow_csv import read_csv, sidecar_path, write_csv
from neurofb.recording.folder import read_folder
from neurofb.recording.mne_files import read_raw_file, write_bids, write_edf, write_fif
from neurofb.recording.muse_csv import read_muse_csv, sniff_muse
from neurofb.recording.openbci_txt import read_openbci_txt
from neurofb.recording.writer import RecordingWriter, new_recording_path
from neurofb.recording.xdf import read_xdf
from neurofb.types import Chunk

__all__ = [
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "detect_format",
    "export",
    "import_file",
    "open_recording",
    "read_file",
    "recording_inputs",
]

#: Formats :func:`export` writes.
EXPORT_FORMATS: tuple[str, ...] = ("edf", "bdf", "fif", "csv", "bids")
#: Formats :func:`read_file` reads.
IMPORT_FORMATS: tuple[str, ...] = (
    "edf", "bdf", "fif", "csv", "xdf", "openbci", "mindmonitor", "muselsl",
)  # fmt: skip
#: File extension of each exported file format.
SUFFIX = {"edf": ".edf", "bdf": ".bdf", "fif": "_raw.fif", "csv": ".csv"}

_EXTENSIONS = {
    ".edf": "edf", ".rec": "edf", ".bdf": "bdf", ".fif": "fif", ".csv": "csv", ".txt": "csv",
    ".tsv": "csv", ".xdf": "xdf", ".xdfz": "xdf",
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
    if head.startswith(b"XDF:"):
        return "xdf"
    if head.startswith(b"%OpenBCI Raw"):
        return "openbci"
    if head.startswith(b"\x00\x00\x00\x64") or head.startswith(b"\x1f\x8b"):
        return "fif"  # FIFF_FILE_ID tag first; or gzip (.fif.gz)
    try:
        muse = sniff_muse(head.split(b"\n", 1)[0].decode("utf-8-sig").strip())
    except UnicodeDecodeError:
        muse = None
    if muse is not None:
        return muse
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
    """Return the format of a file (one of :data:`IMPORT_FORMATS`).

    The file's first bytes decide; the extension is used when they show nothing known.

    Raises
    ------
    RecordingError
        The file is missing, empty, a folder, or of no known format.
    """
    p = Path(path)
    if p.is_dir():
        raise RecordingError(f"{p} is a folder, not another tool's file: a neurofb recording "
                             "folder needs no import (`neurofb replay` and `neurofb export` read "
                             "it as it is)")  # fmt: skip
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
            "FIF (.fif), a BrainFlow CSV (.csv, tab-separated), XDF (.xdf), an OpenBCI GUI "
            "recording (.txt) or a Mind Monitor / muselsl CSV"
        )
    return kind


#: Each kind of source, as a message names it.
_KIND_NAMES = {"folder": "a neurofb recording folder", "edf": "an EDF file", "bdf": "a BDF file",
               "fif": "a FIF file", "csv": "a BrainFlow CSV file", "xdf": "an XDF file",
               "openbci": "an OpenBCI GUI file", "mindmonitor": "a Mind Monitor CSV file",
               "muselsl": "a muselsl CSV file"}
#: The reading options each kind of source takes (the rest would be silently ignored).
_OPTIONS = {"csv": ("board",), "xdf": ("stream", "montage", "unit"), "openbci": ("montage",)}
_FLAGS = {"board": "--board", "stream": "--stream", "montage": "--montage", "unit": "--unit"}
_FOR = {"board": "BrainFlow CSV files", "stream": "XDF files",
        "montage": "sources that name no channels (OpenBCI GUI files, XDF and LSL streams)",
        "unit": "sources that give no unit (XDF and LSL streams)"}


def _check_options(path: Path, kind: str, **options: object) -> None:
    """Refuse reading options a source of this kind does not take (they would do nothing)."""
    given = [k for k, v in options.items()
             if v is not None and not (k == "unit" and v == "auto")]
    unused = [k for k in given if k not in _OPTIONS.get(kind, ())]
    if unused:
        what = _KIND_NAMES.get(kind, f"a {kind} file")
        k = unused[0]
        raise RecordingError(f"{_FLAGS[k]} is for {_FOR[k]}; {path.name} is {what}, where "
                             f"it would do nothing: leave {_FLAGS[k]} out")


def read_file(
    path: str | os.PathLike,
    *,
    board: str | int | None = None,
    stream: str | None = None,
    montage: str | None = None,
    unit: str = "auto",
) -> Recording:
    """Read a recording file (any of :data:`IMPORT_FORMATS`) as a Recording.

    Parameters
    ----------
    path : path-like
        The file.
    board : str or int, optional
        For BrainFlow CSV files: the board that wrote it (BrainFlow name or id). Default: the
        board named in the file's ``.neurofb.json`` sidecar, else the one its column count and
        timestamps tell (:func:`~neurofb.recording.board_guess.guess_board`), else
        ``synthetic``.
    stream : str, optional
        For XDF files: the name of the EEG stream to read (default the first of type EEG).
    montage : str, optional
        Channel names for files that name none (OpenBCI GUI, XDF): a preset, a BrainFlow board
        or names separated by commas (:func:`neurofb.dsp.montage.montage_names`).
    unit : str
        For XDF streams that give no unit: ``"auto"`` (guessed, with a warning), ``"uV"``,
        ``"mV"`` or ``"V"``.

    Returns
    -------
    recording : Recording
        EEG channels only (ECG, EOG, status, ... dropped; names kept as in the file), data in
        µV, shape (n_channels, n_samples); timestamps in seconds (Unix time when the file has
        a start date); markers from the annotations (or the CSV's marker row/sidecar, the XDF's
        marker streams, the Muse app's marker rows).

    Raises
    ------
    RecordingError
        The file is missing, empty, damaged, truncated beyond use, of an unknown format, or
        holds no EEG channel.
    """
    p = Path(path)
    kind = detect_format(p)
    _check_options(p, kind, board=board, stream=stream, montage=montage, unit=unit)
    ext = _by_extension(p)
    guessed = ""
    if kind == "csv":
        if board is None and not sidecar_path(p).is_file():
            try:
                board, guessed = guess_board(p)
            except RecordingError as err:
                if "could have been written by" in str(err):
                    raise
                board = None  # no layout fits: read as the default board, which says why not
        rec = read_csv(p, board=board)
    elif kind == "xdf":
        rec = read_xdf(p, stream=stream, montage=montage, unit=unit)
    elif kind == "openbci":
        rec = read_openbci_txt(p, montage=montage)
    elif kind in ("mindmonitor", "muselsl"):
        rec = read_muse_csv(p)
    else:
        rec = read_raw_file(p, kind)
    notes = [guessed] if guessed else []
    if ext is not None and ext != kind and not (ext == "csv" and kind in (
            "openbci", "mindmonitor", "muselsl")):
        notes.insert(0, f"{p.name} holds {kind.upper()} data despite its extension; read as "
                        f"{kind.upper()}")  # fmt: skip
    if notes:
        rec = replace(rec, warnings=[*notes, *rec.warnings])
    return rec


def open_recording(path: str | os.PathLike, **options: str | None) -> Recording:
    """Open a recording: a neurofb folder, or a file in one of :data:`IMPORT_FORMATS`.

    Parameters
    ----------
    path : path-like
        The recording folder (or its meta.json), or a file in one of the formats
        :func:`read_file` reads.
    **options
        :func:`read_file`'s ``board``, ``stream``, ``montage`` and ``unit`` (for files).

    Returns
    -------
    Recording
        Data in µV, shape (n_channels, n_samples).

    Raises
    ------
    RecordingError
        If the path is missing, not a recording, damaged, or of an unknown format.
    """
    p = Path(path)
    if not p.exists():
        raise RecordingError(f"{p} does not exist: give a recording folder or file")
    if p.is_file() and p.name == META:
        p = p.parent
    if p.is_dir():
        _check_options(p, "folder", **options)
        return read_folder(p)
    return read_file(p, **{k: v for k, v in options.items() if v is not None})


def recording_inputs(recording: Recording) -> tuple[Path, ...]:
    """The files and folders a recording was read from (a BrainFlow CSV's sidecar too).

    Nothing an export writes may be, or lie inside, one of them.
    """
    if recording.path is None:
        return ()
    found = [recording.path]
    meta = recording.meta if isinstance(recording.meta, dict) else {}
    if recording.path.is_file() and meta.get("source_format") == "csv":
        found.append(sidecar_path(recording.path))
    return tuple(found)


def export(
    recording: Recording,
    fmt: str,
    out: str | os.PathLike,
    *,
    board: str | int | None = None,
    overwrite: bool = False,
) -> Path:
    """Export a recording to another format.

    Parameters
    ----------
    recording : Recording
        The recording (:func:`open_recording` opens one).
    fmt : {"edf", "bdf", "fif", "csv", "bids"}
        EDF+ (16-bit), BDF+ (24-bit), FIF (float64), BrainFlow CSV, or a BIDS dataset.
    out : path-like
        File to write; for ``"bids"`` the dataset's root folder: created, an empty folder, or
        a BIDS dataset added to (a folder of other files is refused).
    board : str or int, optional
        For ``"csv"`` only (an error otherwise): the board layout to write (default: the
        recording's own board, else ``synthetic`` when its channels and rate fit).
    overwrite : bool
        Replace an existing file (never needed for BIDS, where each export is a new run); for
        ``"csv"`` its ``.neurofb.json`` sidecar too. Never allows writing into the recording
        itself (its file, its folder, a CSV's sidecar).

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    RecordingError
        The output (or a CSV's sidecar) exists without ``overwrite``, is the recording's own
        file or lies in its folder, its folder does not exist or cannot be written, or the
        recording does not fit the format (EDF labels over 16 characters, no BrainFlow board
        layout fits).
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"fmt must be one of {EXPORT_FORMATS}, got {fmt!r}")
    if not isinstance(recording, Recording):
        raise TypeError(f"export takes a Recording (see open_recording), got {recording!r}")
    rec = recording
    out = Path(out)
    if board is not None and fmt != "csv":
        raise RecordingError(f"--board is for BrainFlow CSV exports (the board layout to "
                             f"write); {fmt.upper()} exports have no use for it: leave --board "
                             "out")
    inputs = recording_inputs(rec)
    if fmt == "bids":
        paths.check_output_folder(out, inputs=inputs, what="BIDS dataset", error=RecordingError)
        if (out.is_dir() and not (out / "dataset_description.json").is_file()
                and any(out.iterdir())):
            raise RecordingError(
                f"{out} holds files but is not a BIDS dataset (it has no "
                "dataset_description.json): neurofb would change its tables; give a new or "
                "empty folder, or a BIDS dataset, with --out")
        return write_bids(rec, out)
    paths.check_new_file(out, force=overwrite, inputs=inputs, what=f"{fmt.upper()} file",
                         error=RecordingError)
    if fmt == "csv":
        paths.check_new_file(sidecar_path(out), force=overwrite, inputs=inputs,
                             what="sidecar", error=RecordingError)
    # Written into a temporary folder beside the output and moved into place when complete: a
    # failed export (disk full, a bad layout) leaves no partial file and never harms an old
    # one. The files keep their names there (a CSV's sidecar, a large FIF's split parts).
    _remove_dead_stages(out)
    stage = out.parent / f".{out.name}.partial-{os.getpid()}"
    part = stage / out.name
    placed: list[Path] = []
    try:
        stage.mkdir()
        if fmt == "csv":
            write_csv(rec, part, board=board)
        elif fmt == "fif":
            write_fif(rec, part)
        else:
            write_edf(rec, part, fmt=fmt)
        for done in sorted(stage.iterdir(), key=lambda p: p == part):  # the output itself last
            _place(done, out.parent / done.name, overwrite=overwrite, placed=placed)
    except (RecordingError, OSError) as err:
        for path in placed:  # a sidecar placed before its CSV was refused: not left alone
            path.unlink(missing_ok=True)
        text = (str(err).replace(str(part), str(out)) if isinstance(err, RecordingError)
                else f"cannot write {out}: {err.strerror or err}")
        if _disk_full(out.parent) and "space" not in text.lower():
            text += " (no space left on the disk)"  # a short write says only what it wrote
        raise RecordingError(text) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


def _place(done: Path, dest: Path, *, overwrite: bool, placed: list[Path]) -> None:
    """Move a finished export file into place; without ``overwrite`` never onto a file that
    appeared meanwhile (another export to the same path that finished first): a hard link
    fails if the name exists, atomically, where a check then a rename would race."""
    if overwrite:
        os.replace(done, dest)
        return
    try:
        os.link(done, dest)
    except FileExistsError:
        raise RecordingError(
            f"{dest} appeared while this export was written (another export to the same "
            "path?): neurofb never overwrites a file; export again with another --out, or "
            "pass --force") from None
    except OSError:  # a file system without hard links: check, then rename
        if dest.exists():
            raise RecordingError(f"{dest} appeared while this export was written: neurofb "
                                 "never overwrites a file; export again with another --out, "
                                 "or pass --force") from None
        os.replace(done, dest)
    placed.append(dest)


def _remove_dead_stages(out: Path) -> None:
    """Remove what exports to ``out`` killed mid-way left (``.NAME.partial-PID`` folders of
    processes that are gone)."""
    from neurofb.recording.interrupted import pid_alive

    for stage in out.parent.glob(f".{out.name}.partial-*"):
        pid = stage.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)


def _disk_full(folder: Path) -> bool:
    """Less than a page or two left on ``folder``'s file system."""
    try:
        return shutil.disk_usage(folder).free < 64 * 1024
    except OSError:
        return False


def import_file(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    root: str | os.PathLike | None = None,
    board: str | int | None = None,
    user: str | None = None,
    chunk_s: float = 10.0,
    **options: str | None,
) -> Path:
    """Convert a recording file (any of :data:`IMPORT_FORMATS`) into a neurofb recording folder.

    Parameters
    ----------
    path : path-like
        The file to import.
    out : path-like, optional
        The recording folder to create. An existing folder (not a recording) gets the new
        recording inside, named after the file. Default: a new folder under ``root``, named
        after the time and the file (the next free name if another import takes it first).
    root : path-like, optional
        Where a recording without ``out`` goes; default ``<data dir>/recordings``.
    board : str or int, optional
        For BrainFlow CSV files: the board that wrote it.
    user : str, optional
        Who the recording is of (meta.json ``user``); default the file's own subject id.
    chunk_s : float
        Seconds of samples handed to the writer at a time.
    **options
        :func:`read_file`'s ``stream``, ``montage`` and ``unit``.

    Returns
    -------
    folder : Path
        The new recording folder.

    Raises
    ------
    RecordingError
        The file cannot be read, or the folder exists already or cannot be written.
    """
    if not chunk_s > 0:
        raise ValueError(f"chunk_s must be positive, got {chunk_s}")
    source = paths.check_input(path, what="file to import", error=RecordingError)
    inputs = (source, *([sidecar_path(source)] if _by_extension(source) == "csv" else []))
    stem = source.name.split(".")[0] or "import"
    if out is None:
        folder = new_recording_path(root, label=stem)
    else:
        folder = Path(out)
        if folder.is_dir() and not (folder / META).exists():
            folder = folder / stem
        paths.check_new_folder(folder, inputs=inputs, what="recording", error=RecordingError)
    rec = read_file(source, board=board, **{k: v for k, v in options.items() if v is not None})
    reserved = {"format", "format_version", "board", "ch_names", "sfreq", "unit", "dtype",
                "byte_order", "columns", "timestamp_offset", "files", "complete",
                "interrupted", "n_samples", "source", "file"}  # fmt: skip
    meta = {k: v for k, v in rec.meta.items() if k not in reserved}
    meta["imported_from"] = str(Path(path).resolve())
    warned = list(rec.warnings)
    if "start_unix" not in meta:  # the import's time, and the end that plus the duration
        meta["start_unix"] = time.time()
        warned.append(f"{source.name} does not say when it was recorded; the recording's "
                      "start is the time of this import")
    if user is not None:
        meta["user"] = user
    if warned:
        meta["import_warnings"] = warned
    writer = RecordingWriter(folder, rec.info, meta=meta, unique=out is None)
    folder = writer.path
    try:
        step = max(1, int(chunk_s * rec.info.sfreq))
        for start in range(0, rec.n_samples, step):
            stop = min(start + step, rec.n_samples)
            writer.write_chunk(Chunk(
                data=rec.data[:, start:stop], timestamps=rec.timestamps[start:stop],
                ch_names=rec.info.ch_names, sfreq=rec.info.sfreq, first_sample=start,
                board=rec.info.board,
            ))  # fmt: skip
            if writer.pending_bytes > _FLUSH_BYTES:  # read a chunk, write a chunk: bounded
                writer.flush()
            if writer.error is not None:
                break
        for marker in rec.markers:
            writer.write_marker(marker)
    except BaseException:
        writer.close()
        shutil.rmtree(folder, ignore_errors=True)  # a half import is no recording: remove it
        raise
    writer.close()
    if writer.error is not None:
        shutil.rmtree(folder, ignore_errors=True)
        raise RecordingError(f"cannot import {source.name}: {writer.reason}; nothing was kept "
                             f"in {folder}. Free disk space (or choose another --out) and "
                             "import again")
    return folder


#: Bytes an import buffers before writing them out (memory stays bounded for any file length).
_FLUSH_BYTES = 4 << 20
