"""Which BrainFlow board wrote a BrainFlow CSV that does not say (no ``--board``, no sidecar).

The OpenBCI GUI (v5 and later) saves every session twice: its own text file and
``BrainFlow-RAW_<session>.csv``, a plain BrainFlow CSV. Such a file names no board, but two
things narrow it down: its number of columns (each board's data array has its own number of
rows) and its timestamp column, which must hold Unix times advancing at the board's sampling
rate. :func:`guess_board` returns the board when exactly one data layout fits both, and says
which boards remain when several do.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from neurofb import boards
from neurofb.errors import BoardError, RecordingError

__all__ = ["guess_board"]

#: Bytes read to measure the sampling rate (about 15 s of a Cyton).
READ_BYTES = 1 << 20
#: How far the rate the timestamps show may be from the board's, as a fraction.
RATE_TOLERANCE = 0.1


def _rows(path: Path) -> np.ndarray:
    with open(path, "rb") as fh:
        head = fh.read(READ_BYTES)
    cut = head.rfind(b"\n") + 1
    if cut == 0:
        raise RecordingError(f"{path} holds no complete line of samples")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.loadtxt(io.BytesIO(head[:cut]), delimiter="\t", ndmin=2).T
    except ValueError as err:
        raise RecordingError(f"{path} is not a BrainFlow CSV ({err})") from None


def guess_board(path: str | os.PathLike) -> tuple[str, str]:
    """The board that wrote a BrainFlow CSV, from its column count and timestamps.

    Parameters
    ----------
    path : path-like
        The CSV file (tab-separated, one sample per line).

    Returns
    -------
    board : str
        The board's name (the first, alphabetically, of boards with the same layout).
    note : str
        How it was told, for the recording's warnings.

    Raises
    ------
    RecordingError
        No board or several different layouts fit; the message lists them and asks for
        ``--board``.
    """
    path = Path(path)
    rows = _rows(path)
    n_cols, n = rows.shape
    candidates = boards.boards_with_columns(n_cols)
    if not candidates:
        raise RecordingError(f"{path} has {n_cols} columns per line: no BrainFlow board writes "
                             "that; it is not a BrainFlow CSV")  # fmt: skip
    fits: dict[tuple, list[str]] = {}
    measured: dict[str, float] = {}
    for name in candidates:
        try:
            lay = boards.board_layout(name)
        except BoardError:
            continue
        ts = rows[lay.timestamp_row]
        if n < 3 or not np.isfinite(ts).all() or ts[0] < 1e8 or np.any(np.diff(ts) < 0):
            continue  # not Unix times in order
        span = float(ts[-1] - ts[0])
        if span <= 0:
            continue
        rate = (n - 1) / span
        measured[name] = rate
        if abs(rate - lay.sfreq) <= RATE_TOLERANCE * lay.sfreq:
            key = (lay.eeg_rows, lay.eeg_names, lay.timestamp_row, lay.marker_row, lay.sfreq)
            fits.setdefault(key, []).append(name)
    if len(fits) == 1:
        names = sorted(next(iter(fits.values())))
        rate = measured[names[0]]
        return names[0], (f"{path.name} names no board: read as {names[0]} ({n_cols} columns, "
                          f"timestamps at {rate:.0f} samples/s); pass --board if that is wrong")
    if not fits:
        raise RecordingError(
            f"{path} has {n_cols} columns per line ({', '.join(candidates)} write that many) but "
            "its timestamps fit none of their sampling rates: pass --board with the board that "
            "recorded it")  # fmt: skip
    names = sorted(n for group in fits.values() for n in group)
    raise RecordingError(f"{path} could have been written by {', '.join(names)}: pass --board "
                         "with the one that recorded it")  # fmt: skip
