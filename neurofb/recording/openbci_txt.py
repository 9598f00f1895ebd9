"""OpenBCI GUI recordings: the ``OpenBCI-RAW-*.txt`` files its "Start Data Stream" writes.

Three generations of the text format exist, all comma-separated, with ``%`` header lines:

- **v3/v4** (``%OpenBCI Raw EEG Data`` … ``%First Column = SampleIndex``,
  ``%Last Column = Timestamp``): sample index, the EEG channels in µV, accelerometer/aux
  columns, a clock time, and the Unix time in milliseconds last.
- **v5** (``%OpenBCI Raw EEG Data`` … ``%Board = OpenBCI_GUI$BoardCytonSerial``): one column
  per row of BrainFlow's data array for that board (EEG in µV at the board's EEG rows, the Unix
  time in milliseconds at its timestamp row), then a clock time.
- **v6** (``%OpenBCI Raw EXG Data``): the same, then a line naming the columns
  (``Sample Index, EXG Channel 0, …, Timestamp, Marker Channel, Timestamp (Formatted)``); the
  timestamp is in seconds.

The board (Cyton, Cyton + Daisy, Ganglion) is inferred from the ``%Board`` line, else from the
number of channels. The files name no electrodes: channels take BrainFlow's default names for
that board (the Cyton's ``Fp1, Fp2, C3, C4, P7, P8, O1, O2``), with a warning, unless
``montage`` names them. Samples are taken as evenly spaced at the header's rate (OpenBCI
stamps packets on arrival, several samples with one time), from the first sample's Unix time;
jumps in the sample index (packets lost over the radio) are counted and reported.
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np

from neurofb import boards
from neurofb.dsp.montage import montage_names as _montage_names
from neurofb.errors import ChannelError, RecordingError
from neurofb.recording.base import Recording, complete_lines
from neurofb.types import Marker, SourceInfo

__all__ = ["MAGIC", "read_openbci_txt"]

log = logging.getLogger(__name__)

#: How every OpenBCI GUI raw file starts.
MAGIC = b"%OpenBCI Raw"

_BOARD_CLASSES = (("daisy", "cyton_daisy"), ("ganglion", "ganglion"), ("cyton", "cyton"),
                  ("synthetic", "synthetic"))  # fmt: skip
_BY_COUNT = {8: "cyton", 16: "cyton_daisy", 4: "ganglion"}


def montage_names(montage: str, n_channels: int) -> tuple[str, ...]:
    """:func:`neurofb.dsp.montage.montage_names`, failing with a RecordingError."""
    try:
        return _montage_names(montage, n_channels)
    except ChannelError as err:
        raise RecordingError(str(err)) from None


def _header(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        body = line.lstrip("%").strip()
        if "=" in body:
            key, value = body.split("=", 1)
            out[key.strip().lower()] = value.strip()
    return out


def _board(head: dict[str, str], n_channels: int, path: Path) -> str:
    cls = head.get("board", "").lower()
    for needle, name in _BOARD_CLASSES:
        if needle in cls:
            if name == "cyton" and n_channels == 16:
                return "cyton_daisy"
            return name
    if n_channels in _BY_COUNT:
        return _BY_COUNT[n_channels]
    raise RecordingError(f"{path}: cannot tell the OpenBCI board (%Board = {cls or 'missing'}, "
                         f"{n_channels} channels)")  # fmt: skip


def _number(text: str | None, what: str, path: Path) -> float:
    match = re.search(r"[-+]?\d+(\.\d*)?", text or "")
    if match is None:
        raise RecordingError(f"{path}: the header gives no {what} ({text!r}); it is damaged")
    return float(match.group(0))


def read_openbci_txt(path: str | os.PathLike, *, montage: str | None = None) -> Recording:
    """Read an OpenBCI GUI raw text recording (v3/v4, v5 or v6 header).

    Parameters
    ----------
    path : path-like
        The ``OpenBCI-RAW-*.txt`` file.
    montage : str, optional
        Channel names (see :func:`montage_names`); default BrainFlow's names for the board.

    Returns
    -------
    Recording
        EEG in µV, shape (n_channels, n_samples); timestamps in Unix seconds, evenly spaced.

    Raises
    ------
    RecordingError
        Not an OpenBCI GUI file, a damaged header, no samples, or unreadable numbers.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise RecordingError(f"cannot read {path}: {err.strerror or err}") from None
    warn: list[str] = []
    if not text.startswith(MAGIC.decode()):
        raise RecordingError(f"{path} is not an OpenBCI GUI recording (no '%OpenBCI Raw' header)")
    text = complete_lines(text, path.name, warn)
    lines = text.splitlines()
    n_head = 0
    while n_head < len(lines) and lines[n_head].startswith("%"):
        n_head += 1
    head = _header(lines[:n_head])
    body = lines[n_head:]
    names: list[str] | None = None
    if body and re.search(r"[A-Za-z]", body[0].split(",")[0]):  # v6: a line naming the columns
        names = [c.strip() for c in body[0].split(",")]
        body = body[1:]
    body = [line for line in body if line.strip()]
    if not body:
        raise RecordingError(f"{path} holds an OpenBCI header but no samples")
    n_ch = int(_number(head.get("number of channels"), "number of channels", path))
    sfreq = _number(head.get("sample rate"), "sample rate", path)
    if not (n_ch > 0 and sfreq > 0):
        raise RecordingError(f"{path}: the header gives {n_ch} channels at {sfreq:g} Hz")
    board = _board(head, n_ch, path)
    n_cols = len(body[0].split(","))
    if names is not None:
        eeg_cols = [i for i, c in enumerate(names) if re.fullmatch(r"EXG Channel \d+", c)]
        ts_col = names.index("Timestamp") if "Timestamp" in names else None
        marker_col = names.index("Marker Channel") if "Marker Channel" in names else None
        if marker_col is None:
            lay = boards.board_layout(board)
            if lay.marker_row is not None and lay.marker_row < len(names) and names[
                    lay.marker_row] == "Other" and ts_col == lay.timestamp_row:
                marker_col = lay.marker_row  # v6 before "Marker Channel" had a name
    elif "first column" in head:  # v3/v4
        eeg_cols, ts_col, marker_col = list(range(1, n_ch + 1)), n_cols - 1, None
    else:  # v5: BrainFlow's rows, then a clock time
        lay = boards.board_layout(board)
        eeg_cols, ts_col, marker_col = list(lay.eeg_rows[:n_ch]), lay.timestamp_row, None
    if len(eeg_cols) != n_ch or max(eeg_cols) >= n_cols or (ts_col is not None
                                                             and ts_col >= n_cols):
        raise RecordingError(
            f"{path}: the header announces {n_ch} channels but the lines hold {n_cols} columns "
            "that do not fit an OpenBCI GUI layout; the file is damaged"
        )  # fmt: skip
    use = [0, *eeg_cols] + ([ts_col] if ts_col is not None else []) + (
        [marker_col] if marker_col is not None else [])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = np.loadtxt(io.StringIO("\n".join(body)), delimiter=",", usecols=use,
                              dtype=np.float64, ndmin=2)  # fmt: skip
    except ValueError as err:
        raise RecordingError(f"{path} holds a line that is not OpenBCI GUI samples ({err}); "
                             "the file is damaged") from None
    index = rows[:, 0]
    data = rows[:, 1 : 1 + n_ch].T
    stamps = rows[:, 1 + n_ch] if ts_col is not None else None
    markers_row = rows[:, -1] if marker_col is not None else None
    if stamps is not None:
        lead = 0
        while lead < len(stamps) and stamps[lead] <= 0:
            lead += 1
        if lead:
            warn.append(f"{path.name}: {lead} leading line(s) without a timestamp (the GUI's "
                        "placeholder row) dropped")  # fmt: skip
            index, data, stamps = index[lead:], data[:, lead:], stamps[lead:]
            if markers_row is not None:
                markers_row = markers_row[lead:]
    if data.shape[1] == 0:
        raise RecordingError(f"{path} holds no samples")
    if not np.isfinite(data).all():
        raise RecordingError(f"{path} holds non-numeric or infinite samples; it is damaged")
    t0 = 0.0
    if stamps is not None and np.isfinite(stamps[0]):
        t0 = float(stamps[0]) / (1000.0 if stamps[0] > 1e11 else 1.0)  # v3-v5: milliseconds
    timestamps = t0 + np.arange(data.shape[1]) / sfreq
    steps = np.mod(np.diff(index), 256)
    if steps.size:
        usual = np.bincount(steps.astype(int)).argmax()
        jumps = int(np.count_nonzero(steps != usual))
        if jumps:
            warn.append(f"{path.name}: the sample index jumps {jumps} time(s): packets were lost "
                        "over the radio, so the signal has gaps the timeline does not show")
    if montage is not None:
        ch_names = montage_names(montage, n_ch)
    else:
        lay = boards.board_layout(board)
        ch_names = tuple(lay.eeg_names[:n_ch]) if len(lay.eeg_names) >= n_ch else tuple(
            f"EXG{i}" for i in range(n_ch))
        warn.append(f"{path.name}: OpenBCI GUI files do not say where the electrodes were; the "
                    f"channels are named after BrainFlow's {board} montage "
                    f"({', '.join(ch_names)}); pass --montage to name them")
    markers = []
    if markers_row is not None:
        for i in np.flatnonzero(markers_row).tolist():
            markers.append(Marker(i / sfreq, "note", f"{markers_row[i]:g}"))
    fmt = "v6" if names is not None else ("v3" if "first column" in head else "v5")
    meta = {"source_format": "openbci-txt", "file": str(path), "openbci_format": fmt,
            "board": board, "openbci_board": head.get("board", "")}
    if t0 > 0:
        meta["start_unix"] = t0
    lay = boards.board_layout(board)
    info = SourceInfo(ch_names=ch_names, sfreq=sfreq, board=board, live=False,
                      details={"board_id": lay.board_id, "recording": str(path),
                               "format": f"openbci-txt ({fmt})"})  # fmt: skip
    return Recording(info=info, meta=meta, data=np.ascontiguousarray(data), timestamps=timestamps,
                     markers=markers, path=path, warnings=warn)  # fmt: skip
