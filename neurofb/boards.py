"""BrainFlow's board catalogue: names, ids and data layouts of every board it knows.

Streaming (:mod:`neurofb.stream.brainflow`) and the BrainFlow CSV format
(:mod:`neurofb.recording.brainflow_csv`) both look boards up here. Every board is available by
its lowercase BrainFlow name (``synthetic``, ``playback``, ``cyton``, ``ganglion``, ``muse_s``, …);
hyphens and a trailing ``_board`` are accepted when a name is looked up (``muse-s`` = ``muse_s``).

BrainFlow is imported on first use, quietly: on Python 3.11 it imports the deprecated
``pkg_resources``, and its own loggers print to stderr unless disabled.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from types import ModuleType

from neurofb.errors import BoardError

__all__ = [
    "ALIASES",
    "BoardLayout",
    "board_id",
    "board_layout",
    "board_names",
    "boards_with_columns",
    "brainflow",
    "data_filter",
    "display_name",
    "num_rows",
]

#: Board names that are not the plain lowercase BrainFlow enum name.
ALIASES: dict[str, str] = {"playback": "playback_file"}


def _quiet_import() -> None:
    with warnings.catch_warnings():
        # brainflow imports the deprecated pkg_resources on Python 3.11.
        warnings.simplefilter("ignore")
        import brainflow.board_shim
        import brainflow.data_filter
        import brainflow.ml_model  # noqa: F401


@functools.lru_cache(maxsize=1)
def brainflow() -> ModuleType:
    """Return :mod:`brainflow.board_shim`, imported quietly, with BrainFlow's logger off."""
    _quiet_import()
    from brainflow import board_shim

    board_shim.BoardShim.disable_board_logger()
    return board_shim


@functools.lru_cache(maxsize=1)
def data_filter() -> ModuleType:
    """Return :mod:`brainflow.data_filter`, imported quietly, with its logger off."""
    _quiet_import()
    from brainflow import data_filter as module

    module.DataFilter.disable_data_logger()
    return module


def _normalise(name: str) -> str:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key.endswith("_board"):
        key = key[: -len("_board")]
    return ALIASES.get(key, key)


@functools.lru_cache(maxsize=1)
def _board_table() -> dict[str, int]:
    """Map every lowercase BrainFlow board name to its board id."""
    bs = brainflow()
    table = {}
    for member in bs.BoardIds:
        if member.value == bs.BoardIds.NO_BOARD.value:
            continue
        table[member.name.lower().replace("_board", "")] = int(member.value)
    return table


def board_names() -> list[str]:
    """Return the names of every board BrainFlow knows, lowercase and sorted.

    ``playback`` stands for BrainFlow's ``PLAYBACK_FILE_BOARD``.
    """
    reverse = {v: k for k, v in ALIASES.items()}
    return sorted(reverse.get(name, name) for name in _board_table())


def board_id(name: str | int) -> int:
    """Return the BrainFlow board id of a board name (or of a numeric id given as text).

    Raises
    ------
    BoardError
        When BrainFlow knows no such board; the message lists the valid names.
    """
    table = _board_table()
    text = str(name).strip()
    if re.fullmatch(r"-?\d+", text):
        if int(text) in table.values():
            return int(text)
    elif _normalise(text) in table:
        return table[_normalise(text)]
    raise BoardError(f"unknown board {name!r}; valid boards: {', '.join(board_names())} (and "
                     "lsl, an LSL stream, for neurofb stream)")


def display_name(board: int) -> str:
    """The name :func:`board_names` uses for a board id (the id as text if unknown)."""
    reverse = {v: k for k, v in ALIASES.items()}
    for name, value in _board_table().items():
        if value == board:
            return reverse.get(name, name)
    return str(board)


def num_rows(board: int) -> int:
    """Rows of a board's data array (``BoardShim.get_num_rows``), or -1 if it has none."""
    bs = brainflow()
    try:
        return int(bs.BoardShim.get_num_rows(board))
    except bs.BrainFlowError:
        return -1


def boards_with_columns(n_columns: int) -> list[str]:
    """Names of the boards whose data array (and CSV file) has ``n_columns`` rows, sorted.

    Playback and streaming boards, which take their master board's layout, are left out.
    """
    return [name for name in board_names() if num_rows(board_id(name)) == n_columns
            and board_id(name) >= -1]  # fmt: skip


@dataclass(frozen=True)
class BoardLayout:
    """Where a board puts what in its data array (``BoardShim`` descriptors).

    Parameters
    ----------
    board_id : int
        BrainFlow board id.
    name : str
        The board's name (see :func:`board_names`).
    num_rows : int
        Rows of the board's data array (columns of its CSV files).
    eeg_rows : tuple of int
        Rows holding EEG (µV).
    eeg_names : tuple of str
        Electrode names of the EEG rows (``EEG1``… where BrainFlow has none).
    timestamp_row : int
        Row of the Unix timestamps (s).
    marker_row : int or None
        Row of the markers, if the board has one.
    sfreq : float
        Sampling rate in Hz.
    package_row : int or None
        Row of the package counter (0…255, wrapping), if the board has one.
    """

    board_id: int
    name: str
    num_rows: int
    eeg_rows: tuple[int, ...]
    eeg_names: tuple[str, ...]
    timestamp_row: int
    marker_row: int | None
    sfreq: float
    package_row: int | None = None


@functools.cache
def _layout(board: int) -> BoardLayout:
    bs = brainflow()
    shim = bs.BoardShim
    name = display_name(board)
    try:
        eeg = tuple(int(r) for r in shim.get_eeg_channels(board))
        ts = int(shim.get_timestamp_channel(board))
        rows = int(shim.get_num_rows(board))
        sfreq = float(shim.get_sampling_rate(board))
    except bs.BrainFlowError:
        raise BoardError(
            f"board {name} has no EEG data layout in BrainFlow (playback and streaming boards "
            "take the layout of their master board): pass the board that recorded the data"
        ) from None
    if not eeg:
        raise BoardError(f"board {name} has no EEG channels; neurofb needs EEG")
    try:
        marker: int | None = int(shim.get_marker_channel(board))
    except bs.BrainFlowError:
        marker = None
    try:
        package: int | None = int(shim.get_package_num_channel(board))
    except bs.BrainFlowError:
        package = None
    try:
        names = tuple(shim.get_eeg_names(board))
    except bs.BrainFlowError:
        names = ()
    if len(names) != len(eeg):
        names = tuple(f"EEG{i + 1}" for i in range(len(eeg)))
    return BoardLayout(board, name, rows, eeg, names, ts, marker, sfreq, package)


def board_layout(board: str | int) -> BoardLayout:
    """Return the data layout of a BrainFlow board given by name or id.

    Raises
    ------
    BoardError
        BrainFlow knows no such board, it has no data layout of its own (playback, streaming)
        or no EEG channels.
    """
    return _layout(board_id(board))
