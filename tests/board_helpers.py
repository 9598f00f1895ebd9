"""Helpers shared by the board, runner and stream tests (real BrainFlow boards only)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
    from brainflow.data_filter import DataFilter


def record_synthetic_csv(path: Path, seconds: float) -> np.ndarray:
    """Stream BrainFlow's synthetic board for ``seconds`` and save it as a BrainFlow CSV.

    Returns the file read back with BrainFlow, shape (n_rows, n_samples).
    """
    board = BoardShim(BoardIds.SYNTHETIC_BOARD.value, BrainFlowInputParams())
    board.prepare_session()
    try:
        board.start_stream()
        time.sleep(seconds)
        data = board.get_board_data()
    finally:
        board.release_session()
    DataFilter.write_file(data, str(path), "w")
    return DataFilter.read_file(str(path))


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Wait until ``condition()`` holds (a generous timeout: tests assert states, not speed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
