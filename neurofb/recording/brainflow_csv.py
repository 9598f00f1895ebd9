"""BrainFlow CSV files: the layout ``DataFilter.write_file`` writes and the playback board plays.

A BrainFlow CSV holds one sample per line, tab-separated, with one column per row of the board's
data array (``BoardShim.get_num_rows``): EEG at ``get_eeg_channels``, the timestamp at
``get_timestamp_channel``, markers at ``get_marker_channel``; the file does not say which board
wrote it, so the reader needs it (``board=``). Values are printed with 6 decimals (µV, seconds).

Export writes that exact layout for the board the recording came from (other rows zero), so
BrainFlow's ``PLAYBACK_FILE_BOARD`` (``master_board`` = that board) and the OpenBCI GUI can play
it. Markers go to the marker row as numeric codes (:data:`MARKER_CODES`, a reward is 5.0, ...)
and, with their labels and values, to a sidecar ``<name>.neurofb.json`` that also names the board
and the channels, so importing the file back needs no ``--board`` and keeps every marker.

Files are written with ``DataFilter.write_file`` and read with numpy (see :func:`_parse`:
BrainFlow's own parser aborts the process on some damaged files).
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from neurofb import boards
from neurofb.boards import BoardLayout
from neurofb.errors import BoardError, RecordingError
from neurofb.recording.base import TORN_LINE, CachedRows, Recording, TimeSeries, portable_meta
from neurofb.types import Marker, SourceInfo

log = logging.getLogger(__name__)

#: Numeric code of each marker kind in the board's marker row (BrainFlow markers are non-zero
#: floats). Unknown kinds are written as :data:`OTHER_CODE`.
MARKER_CODES: dict[str, float] = {
    "session_start": 1.0, "session_end": 2.0, "block_start": 3.0, "block_end": 4.0,
    "reward": 5.0, "threshold": 6.0, "note": 7.0, "disconnect": 8.0, "reconnect": 9.0,
    "pause": 10.0, "resume": 11.0,
}  # fmt: skip
OTHER_CODE = 99.0
#: Timestamps before this (2001-09-09) are not a BrainFlow board's Unix time.
EARLIEST_UNIX = 1e9
SIDECAR_FORMAT = "neurofb-brainflow-csv"
DEFAULT_BOARD = "synthetic"


def board_layout(board: str | int) -> BoardLayout:
    """Return the data layout of a BrainFlow board given by name or id.

    Raises
    ------
    RecordingError
        BrainFlow knows no such board, or it has no EEG data layout of its own.
    """
    try:
        return boards.board_layout(board)
    except BoardError as err:
        raise RecordingError(str(err)) from None


def _fitting_boards(n_ch: int, sfreq: float) -> list[str]:
    out = []
    for name in boards.board_names():
        try:
            lay = board_layout(name)
        except RecordingError:
            continue
        if len(lay.eeg_rows) >= n_ch and lay.sfreq == sfreq:
            out.append(name)
    return out


def recording_board(recording: Any) -> str | int | None:
    """The BrainFlow board a recording was made with (the master board of a playback), or None."""
    meta = getattr(recording, "meta", {}) or {}
    source = meta.get("source") if isinstance(meta.get("source"), dict) else {}
    for key in ("master_board", "board_id"):
        value = source.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= -1:
            return value
    board = meta.get("board") or getattr(getattr(recording, "info", None), "board", "")
    if isinstance(board, str) and board:
        try:
            board_layout(board)
        except RecordingError:
            return None
        return board
    return None


def sidecar_path(path: str | os.PathLike) -> Path:
    """The sidecar JSON of a BrainFlow CSV: ``session.csv`` → ``session.neurofb.json``."""
    p = Path(path)
    return p.with_name(p.stem + ".neurofb.json")


def _channel_rows(ch_names: tuple[str, ...], lay: BoardLayout) -> list[int]:
    if set(ch_names) <= set(lay.eeg_names) and len(set(ch_names)) == len(ch_names):
        return [lay.eeg_rows[lay.eeg_names.index(n)] for n in ch_names]
    return list(lay.eeg_rows[: len(ch_names)])


def write_csv(
    recording: Any, out: str | os.PathLike, *, board: str | int | None = None
) -> Path:
    """Write a recording as a BrainFlow CSV (and its ``.neurofb.json`` sidecar).

    Parameters
    ----------
    recording : Recording
        Data in µV, shape (n_channels, n_samples).
    out : path-like
        CSV file to write.
    board : str or int, optional
        Board whose layout to use; default the board the recording came from, else
        ``synthetic`` when the channels and sampling rate fit it.

    Raises
    ------
    RecordingError
        The recording does not fit the board's layout (too many channels, another sampling
        rate); the message lists boards that fit.
    """
    df = boards.data_filter()
    n_ch, n = recording.data.shape
    sfreq = float(recording.info.sfreq)
    explicit = board is not None
    if board is None:
        own = recording_board(recording)  # Cyton's board id is 0: test for None, not truth
        board = DEFAULT_BOARD if own is None else own
    lay = board_layout(board)
    if n_ch > len(lay.eeg_rows) or lay.sfreq != sfreq:
        fits = _fitting_boards(n_ch, sfreq)
        origin = "the chosen board" if explicit else "the board layout used"
        raise RecordingError(
            f"a BrainFlow CSV for {lay.name} ({origin}) holds {len(lay.eeg_rows)} EEG channels "
            f"at {lay.sfreq:g} Hz; this recording has {n_ch} channels at {sfreq:g} Hz. "
            + (f"Pass --board with a board that fits: {', '.join(fits)}."
               if fits else "No BrainFlow board has that layout; export EDF or FIF instead.")
        )  # fmt: skip
    rows = np.zeros((lay.num_rows, n), dtype=np.float64)
    rows[_channel_rows(tuple(recording.info.ch_names), lay)] = recording.data
    rows[lay.timestamp_row] = recording.timestamps
    if lay.package_row is not None:  # the board's counter, as a headset sends it
        rows[lay.package_row] = np.arange(n) % 256
    markers = list(recording.markers)
    if lay.marker_row is not None:
        used: set[int] = set()
        for m in sorted(markers, key=lambda m: m.t):
            i = min(max(round(m.t * sfreq), 0), n - 1)
            while i in used and i < n - 1:
                i += 1
            used.add(i)
            rows[lay.marker_row, i] = MARKER_CODES.get(m.kind, OTHER_CODE)
    out = Path(out)
    try:
        df.DataFilter.write_file(rows, str(out), "w")
    except Exception as err:  # BrainFlowError: the folder is missing or unwritable
        raise RecordingError(f"cannot write {out}: {err}") from err
    sidecar = {
        "format": SIDECAR_FORMAT,
        "board": lay.name,
        "board_id": lay.board_id,
        "ch_names": list(recording.info.ch_names),
        "rows": _channel_rows(tuple(recording.info.ch_names), lay),
        "sfreq": sfreq,
        "unit": "uV",
        "markers": [
            {"t": m.t, "kind": m.kind, "label": m.label, "value": m.value} for m in markers
        ],
        "meta": portable_meta(getattr(recording, "meta", {}) or {}),
    }
    sidecar_path(out).write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
    return out


def _read_sidecar(path: Path, warn: list[str]) -> dict:
    side = sidecar_path(path)
    if not side.is_file():
        return {}
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
            raise ValueError(f"not a {SIDECAR_FORMAT} sidecar")
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise RecordingError(f"{side} is damaged ({err}): it names the channels and board of "
                             f"{path.name}; repair it, or move it away to read the file with "
                             "the board's own channel names (--board)") from None
    return data


def _sidecar_markers(side: dict, warn: list[str]) -> list[Marker] | None:
    raw = side.get("markers")
    if not isinstance(raw, list):
        return None
    out = []
    for rec in raw:
        try:
            value = rec.get("value")
            t = float(rec["t"])
            if not math.isfinite(t):
                raise ValueError("t is not finite")
            out.append(Marker(t, str(rec["kind"]), str(rec.get("label", "")),
                              None if value is None else float(value)))  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            warn.append(f"sidecar marker {rec!r} skipped: {err}")
    return out


def _check_text(path: Path, n_rows: int, lay: BoardLayout) -> None:
    """Check the first line has the board's column count before BrainFlow parses the file."""
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    if not head.strip():
        raise RecordingError(f"{path} is empty: it holds no samples")
    if b"\0" in head:
        raise RecordingError(f"{path} is not a BrainFlow CSV: it holds binary data")
    first = head.split(b"\n", 1)[0]
    cols = len(first.split(b"\t"))
    if cols != n_rows:
        fits = boards.boards_with_columns(cols)
        hint = (f"pass --board with the board that recorded it ({', '.join(fits)} write "
                f"{cols} columns)" if fits and cols > 1 else
                "it is not a BrainFlow CSV (tab-separated, one sample per line)")
        raise RecordingError(
            f"{path} has {cols} column{'s' if cols != 1 else ''} per line but {lay.name} "
            f"files have {n_rows}: {hint}"
        )  # fmt: skip


def read_csv(path: str | os.PathLike, *, board: str | int | None = None) -> Recording:
    """Read a BrainFlow CSV as a Recording.

    The text is parsed once, a block of lines at a time, into a temporary binary file that
    :attr:`Recording.data` then reads on demand: memory stays bounded however long the file.

    Parameters
    ----------
    path : path-like
        The CSV file.
    board : str or int, optional
        Board that wrote it; default the sidecar's board, else ``synthetic``.

    Returns
    -------
    Recording
        The board's EEG channels, data (n_ch, n) µV (``nan`` cells read as NaN), timestamps
        (n,) s, markers.

    Raises
    ------
    RecordingError
        The file is empty, not a BrainFlow CSV, damaged (a timestamp that is not a number), or
        of another board's layout.
    """
    path = Path(path)
    warn: list[str] = []
    side = _read_sidecar(path, warn)
    if board is None:
        board = side.get("board_id", side.get("board")) if side else None
    lay = board_layout(board if board is not None else DEFAULT_BOARD)
    _check_text(path, lay.num_rows, lay)
    ch_rows = list(lay.eeg_rows)
    ch_names = list(lay.eeg_names)
    if side and side.get("board_id") == lay.board_id:
        names, srows = side.get("ch_names"), side.get("rows")
        if not (isinstance(names, list) and isinstance(srows, list) and len(names) == len(srows)
                and len({str(x) for x in names}) == len(names)
                and all(isinstance(r, int) and 0 <= r < lay.num_rows for r in srows)):
            raise RecordingError(
                f"{sidecar_path(path)} is damaged (its channel names and rows do not fit a "
                f"{lay.name} file): repair it, or move it away to read {path.name} with the "
                "board's own channel names (--board)")
        ch_rows, ch_names = srows, [str(x) for x in names]
    cache, n, codes = _parse(path, lay, ch_rows, warn)
    markers = _sidecar_markers(side, warn) if side else None
    if markers is None:
        names_by_code = {v: k for k, v in MARKER_CODES.items()}
        markers = []
        for i, code in codes:
            kind = names_by_code.get(code)
            markers.append(Marker(i / lay.sfreq, kind or "note", "" if kind else f"{code:g}"))
    meta = dict(side.get("meta", {})) if isinstance(side.get("meta"), dict) else {}
    meta.update(source_format="csv", file=str(path))
    info = SourceInfo(
        ch_names=tuple(ch_names), sfreq=lay.sfreq, board=lay.name, live=False,
        details={"board_id": lay.board_id, "master_board": lay.board_id,
                 "recording": str(path), "format": "csv"},
    )  # fmt: skip
    rows = CachedRows(_CacheRows(cache, len(ch_rows) + 1))
    n_ch = len(ch_rows)
    data = TimeSeries(lambda a, b: np.array(rows(a, b)[:, 1:].T, order="C"), (n_ch, n),
                      keep=cache)
    timestamps = TimeSeries(lambda a, b: rows(a, b)[:, 0].copy(), (n,), keep=cache)
    if "start_unix" not in meta and n:  # no sidecar: BrainFlow's timestamps are Unix seconds
        first = float(rows(0, 1)[0, 0])
        if EARLIEST_UNIX <= first <= time.time() + 86400.0:  # else: the import's time
            meta["start_unix"] = first
    return Recording(info=info, meta=meta, data=data, timestamps=timestamps, markers=markers,
                     path=path, warnings=warn)  # fmt: skip


class _CacheRows:
    """Rows ``[timestamp, ch...]`` (float64) of the parsed cache file, read a span at a time."""

    def __init__(self, fh: Any, n_cols: int) -> None:
        self.fh, self.n_cols = fh, n_cols

    def __call__(self, start: int, stop: int) -> np.ndarray:
        size = (stop - start) * self.n_cols * 8
        raw = os.pread(self.fh.fileno(), size, start * self.n_cols * 8)
        if len(raw) != size:
            raise RecordingError("the temporary copy of a BrainFlow CSV became shorter while "
                                 "it was read; open the file again")
        return np.frombuffer(raw, dtype=np.float64).reshape(stop - start, self.n_cols)


#: Bytes of text parsed at a time (a block's rows take about as much memory again, times 3).
_BLOCK_BYTES = 1 << 20


def _parse(path: Path, lay: BoardLayout, ch_rows: list[int], warn: list[str]
           ) -> tuple[Any, int, list[tuple[int, float]]]:
    """Parse a BrainFlow CSV a block of lines at a time into a temporary binary file.

    The same text ``DataFilter.read_file`` reads, parsed with numpy because BrainFlow's parser
    aborts the whole process (an uncaught C++ ``std::out_of_range``) on a number out of double
    range such as ``1e999``, which a damaged file can hold. A last line cut off by a crash is
    dropped with a warning.

    Returns
    -------
    cache : file object
        Rows ``[timestamp, channels...]`` as float64 (deleted when closed or collected).
    n : int
        Number of samples.
    codes : list of (int, float)
        Sample index and value of each non-zero cell of the marker row.
    """
    cache = tempfile.TemporaryFile(prefix="neurofb-csv-")
    n = 0
    codes: list[tuple[int, float]] = []
    take = [lay.timestamp_row, *ch_rows]
    last_t = None
    back = total = 0  # timestamp steps that go back, and all steps
    try:
        with open(path, "rb") as fh:
            for lines, line_no in _blocks(fh, path, warn):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        rows = np.loadtxt(io.BytesIO(lines), delimiter="\t", dtype=np.float64,
                                          ndmin=2)
                except ValueError as err:
                    raise RecordingError(
                        f"{path} is not a readable BrainFlow CSV near line {line_no} ({err}): "
                        "every line must hold the same number of tab-separated numbers"
                    ) from None
                if rows.shape[1] != lay.num_rows:
                    raise RecordingError(
                        f"{path} holds {rows.shape[1]} columns near line {line_no}, not the "
                        f"{lay.num_rows} of {lay.name} files: it is damaged or of another "
                        "board (--board)")
                stamps = rows[:, lay.timestamp_row]
                if not np.all(np.isfinite(stamps)):
                    raise RecordingError(f"{path} holds a timestamp that is not a finite "
                                         f"number near line {line_no}: it is damaged")
                steps = np.diff(stamps if last_t is None else np.r_[last_t, stamps])
                back += int(np.count_nonzero(steps < 0))
                total += steps.size
                last_t = stamps[-1]
                if lay.marker_row is not None:
                    col = rows[:, lay.marker_row]
                    codes += [(n + int(i), float(col[i])) for i in np.flatnonzero(col)
                              if np.isfinite(col[i])]
                block = rows[:, take]
                block[:, 1:][~np.isfinite(block[:, 1:])] = np.nan
                cache.write(np.ascontiguousarray(block).tobytes())
                n += rows.shape[0]
        cache.flush()
    except OSError as err:
        cache.close()
        raise RecordingError(f"cannot read {path}: {err.strerror or err}") from None
    except BaseException:
        cache.close()
        raise
    if n == 0 or last_t is None:
        cache.close()
        raise RecordingError(f"{path} holds no complete line of samples")
    if back > total / 2:  # a clock's jitter steps back now and then, never most of the time
        cache.close()
        raise RecordingError(f"{path}: its timestamp column runs backwards ({back} of {total} "
                             "steps): it is not a clock; the file is damaged")
    return cache, n, codes


def _blocks(fh: Any, path: Path, warn: list[str]) -> Iterator[tuple[bytes, int]]:
    """The file's complete lines, about :data:`_BLOCK_BYTES` at a time, with the number of
    the first line of each block."""
    carry = b""
    line_no = 1
    while chunk := fh.read(_BLOCK_BYTES):
        text = carry + chunk
        cut = text.rfind(b"\n") + 1
        block, carry = text[:cut], text[cut:]
        if block.strip():
            yield block, line_no
        line_no += block.count(b"\n")
    if carry.strip():
        warn.append(f"{path.name}: {TORN_LINE}")
