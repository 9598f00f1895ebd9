"""BrainFlow boards as sources of timestamped EEG chunks.

Every board BrainFlow knows is available by its lowercase name (``synthetic``, ``playback``,
``cyton``, ``ganglion``, ``muse_s``, …; see :func:`neurofb.boards.board_names`), with its
connection parameters passed through to :class:`brainflow.board_shim.BrainFlowInputParams`. A
source delivers only the board's EEG channels, in µV (BrainFlow's unit), with the board's own
timestamps (Unix seconds).

BrainFlow's ``BoardShim`` is not touched from more than one thread by this module: the stream
runner calls ``start``/``read``/``restart``/``stop`` from its own thread. BrainFlow itself refuses
a second session with the same board and parameters in one process; each source's shim releases
on garbage collection only a session it prepared itself.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from neurofb import boards
from neurofb.errors import BoardError, EndOfStream
from neurofb.types import Chunk, SourceInfo

__all__ = ["BUFFER_S", "BrainFlowSource", "open_board"]

log = logging.getLogger(__name__)

#: Seconds of samples BrainFlow's ring buffer holds between two reads.
BUFFER_S = 60.0

# What to tell the user for BrainFlow's exit codes (brainflow.exit_codes.BrainFlowExitCodes).
_HINTS: dict[int, str] = {
    1: "the port is already open: is another program (OpenBCI GUI, another neurofb) using it?",
    2: "check the port / is another program using it?",
    3: "check the port / is another program using it?",
    4: "the board did not accept a command: power-cycle it and try again",
    6: "the board sent an unexpected first message: power-cycle it and try again",
    7: "the board is not responding: is it switched on, charged and in range?",
    13: "check the connection parameters this board needs (--serial-port, --mac-address, "
    "--ip-address, --file, …)",
    14: "this BrainFlow build does not support this board on this platform",
    16: "a board is already open in this process: stop the other stream first",
    18: "the board did not answer in time: is it switched on and in range? (try --timeout)",
}


@functools.lru_cache(maxsize=1)
def _session_shim() -> type:
    """A ``BoardShim`` that releases on garbage collection only the session it prepared.

    BrainFlow keys a session by board id and parameters: a plain ``BoardShim`` made for a board
    that is already open would release the other one's session when it is collected.
    """
    base = boards.brainflow().BoardShim

    class SessionShim(base):  # type: ignore[misc, valid-type]
        owns_session = False

        def prepare_session(self) -> None:
            super().prepare_session()
            self.owns_session = True

        def release_session(self) -> None:
            try:
                super().release_session()
            finally:
                self.owns_session = False

        def __del__(self) -> None:
            if self.owns_session and self.is_prepared():
                super().release_session()

    return SessionShim


def _ip_protocol(value: str | int | None) -> int:
    if value is None or value == "":
        return 0
    codes = {"none": 0, "udp": 1, "tcp": 2}
    text = str(value).strip().lower()
    if text in codes:
        return codes[text]
    if text in ("0", "1", "2"):
        return int(text)
    raise ValueError(f"ip_protocol must be 'udp', 'tcp' or 'none', got {value!r}")


#: Every byte a line of numbers may hold (digits, sign, point, exponent, nan, inf, separators).
_NUMBER_BYTES = b"0123456789+-.eE\t\r\n naNinfINFaAtyTY"


def _count_rows(path: Path, n_cols: int, ts_col: int | None = None) -> int:
    """Number of samples in a BrainFlow CSV file: its non-empty lines, each of ``n_cols``
    tab-separated fields (BrainFlow skips any other line, so a file holding one would never
    reach its end: one is an error here), numbers only, and a finite timestamp in column
    ``ts_col`` (BrainFlow's playback paces itself by it: one it cannot read stalls it)."""
    n = 0
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            got = line.count(b"\t") + 1
            if got != n_cols:
                raise BoardError(
                    f"playback file {str(path)!r}: line {number} has {got} fields where the "
                    f"others have {n_cols}: the file is damaged (BrainFlow would skip it); "
                    "mend or remove that line"
                )
            if line.translate(None, _NUMBER_BYTES):  # a letter or a sign no number has
                raise BoardError(
                    f"playback file {str(path)!r}: line {number} is not numbers only "
                    f"({line[:40].decode('utf-8', 'replace').strip()!r}…): BrainFlow cannot "
                    "play it; mend or remove that line"
                )
            if ts_col is not None:
                stamp = line.split(b"\t", ts_col + 1)[ts_col]
                try:
                    good = math.isfinite(float(stamp))
                except ValueError:
                    good = False
                if not good:
                    raise BoardError(
                        f"playback file {str(path)!r}: line {number} has no timestamp "
                        f"(column {ts_col + 1} holds {stamp.decode('utf-8', 'replace')!r}): "
                        "BrainFlow paces the playback by it; mend or remove that line"
                    )
            n += 1
    return n


def _numbers(line: str) -> bool:
    try:
        for field in line.split("\t"):
            float(field)
    except ValueError:
        return False
    return True


def _check_playback_file(path: Path, master: int) -> int:
    """Check a BrainFlow CSV fits the master board's layout; return its number of samples."""
    if not path.is_file():
        raise BoardError(f"playback file {str(path)!r} not found: pass an existing BrainFlow CSV")
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    n_cols = len(first.split("\t")) if first.strip() else 0
    rows = boards.num_rows(master)
    if n_cols != rows:
        fits = boards.boards_with_columns(n_cols)
        hint = (
            f"pass --master-board with the board that recorded it (boards with {n_cols} "
            f"columns: {', '.join(fits)})"
            if fits
            else "it is not a BrainFlow CSV (tab-separated, one sample per line)"
        )
        raise BoardError(
            f"playback file {str(path)!r} has {n_cols} columns but {boards.display_name(master)} "
            f"files have {rows}: {hint}"
        )
    if not _numbers(first):  # BrainFlow would play a header line as a sample of zeros
        raise BoardError(
            f"playback file {str(path)!r}: its first line is not numbers (a header?); a "
            "BrainFlow CSV is numbers only, one sample per line"
        )
    return _count_rows(path, n_cols, boards.board_layout(master).timestamp_row)


class BrainFlowSource:
    """A BrainFlow board (real, synthetic or playback) as a :class:`Source`.

    Use :func:`open_board` to make one by name. Only the EEG channels are delivered, in µV,
    with the board's timestamps; ``first_sample`` counts the samples delivered since the first
    :meth:`start` and keeps counting across :meth:`restart`.

    Parameters
    ----------
    board : int
        BrainFlow board id.
    params : brainflow.board_shim.BrainFlowInputParams
        Connection parameters.
    name : str
        Name shown to the user (``"synthetic"``, ``"cyton"``, …).
    where : str
        Where the device is (``"on /dev/ttyUSB0"``), for error messages.
    buffer_s : float
        Seconds of samples BrainFlow keeps between reads (its ring buffer); older unread
        samples are dropped.
    """

    def __init__(
        self, board: int, params: Any, *, name: str, where: str = "", buffer_s: float = BUFFER_S
    ) -> None:
        bs = boards.brainflow()
        if not buffer_s > 0:
            raise ValueError(f"buffer_s must be positive seconds, got {buffer_s}")
        self.board_id = int(board)
        self.name = name
        self.where = where
        self._params = params
        master = params.master_board if board in (-2, -3) else board
        self.master_board = int(master)
        self._n_file_samples: int | None = None
        if board == bs.BoardIds.PLAYBACK_FILE_BOARD.value:
            self._n_file_samples = _check_playback_file(Path(params.file), self.master_board)
        layout = boards.board_layout(self.master_board)
        self._eeg_rows = list(layout.eeg_rows)
        self._ts_row = layout.timestamp_row
        names, sfreq = layout.eeg_names, layout.sfreq
        self.info = SourceInfo(
            ch_names=tuple(names),
            sfreq=sfreq,
            board=name,
            unit="uV",
            live=True,
            # the synthetic board, or a file of it played back: sines, not EEG
            simulated=bs.BoardIds.SYNTHETIC_BOARD.value in (self.board_id, self.master_board),
            replayed=self.board_id == bs.BoardIds.PLAYBACK_FILE_BOARD.value,
            details={
                "board_id": self.board_id,
                "master_board": self.master_board,
                "brainflow_version": _brainflow_version(),
                "connection": where,
            },
        )
        # BrainFlow's default ring buffer holds 30 min and its pages are touched as it fills, so
        # memory would climb for half an hour; a short buffer keeps it flat.
        self._buffer_samples = max(round(sfreq * buffer_s), 256)
        self._shim: Any = None
        self._streaming = False
        self._delivered = 0

    # -- Source protocol -------------------------------------------------------------------
    def start(self) -> None:
        """Prepare the BrainFlow session and start streaming.

        Raises
        ------
        BoardError
            When the device is missing, busy or does not answer (the message says what to check).
        """
        bs = boards.brainflow()
        if self._streaming:
            return
        if self._shim is None:
            self._shim = _session_shim()(self.board_id, self._params)
        if self._shim.is_prepared():  # by another source of this program
            self._shim = None
            raise BoardError(
                f"could not open {self.name}{' ' + self.where if self.where else ''}: "
                "it is already open in this program — stop the other stream first"
            )
        try:
            self._shim.prepare_session()
            self._shim.start_stream(self._buffer_samples)
        except bs.BrainFlowError as err:
            self._release()
            raise BoardError(self._describe(err)) from None
        self._streaming = True
        log.info("streaming from %s %s", self.name, self.where)

    def read(self) -> Chunk | None:
        """Return the EEG samples since the last read (µV), or None when there are none.

        Raises
        ------
        BoardError
            When the session is not open or BrainFlow reports it became invalid.
        EndOfStream
            When a playback board has delivered every sample of its file.
        """
        bs = boards.brainflow()
        if not self._streaming or self._shim is None:
            raise BoardError(f"{self.name} is not streaming: start() it first")
        try:
            raw = self._shim.get_board_data()
        except bs.BrainFlowError as err:
            raise BoardError(f"{self.name} stopped delivering data: {err}") from None
        n = raw.shape[1] if raw.ndim == 2 else 0
        if n == 0:
            if self._n_file_samples is not None and self._delivered >= self._n_file_samples:
                raise EndOfStream(f"end of playback file {self._params.file}")
            return None
        chunk = Chunk(
            data=np.ascontiguousarray(raw[self._eeg_rows], dtype=np.float64),
            timestamps=np.ascontiguousarray(raw[self._ts_row], dtype=np.float64),
            ch_names=self.info.ch_names,
            sfreq=self.info.sfreq,
            first_sample=self._delivered,
            board=self.name,
            unit="uV",
        )
        self._delivered += n
        return chunk

    def stop(self) -> None:
        """Stop streaming and release the device. Safe to call twice, never raises."""
        self._release()

    def restart(self) -> None:
        """Release the device and open it again; samples keep counting from where they were.

        Raises
        ------
        BoardError
            When the device cannot be opened again (still unplugged, busy).
        EndOfStream
            For a playback board: opened again it would play its file from the start, into
            the same stream; a playback that stalls has nothing more to give.
        """
        if self._n_file_samples is not None:
            raise EndOfStream(
                f"playback file {self._params.file} gave no more samples after "
                f"{self._delivered} of its {self._n_file_samples}")
        self._release()
        self.start()

    # -- helpers ---------------------------------------------------------------------------
    @property
    def samples_delivered(self) -> int:
        """Number of samples delivered by :meth:`read` since the first start."""
        return self._delivered

    def _release(self) -> None:
        bs = boards.brainflow()
        self._streaming = False
        shim, self._shim = self._shim, None
        if shim is not None:
            try:
                if shim.owns_session and shim.is_prepared():
                    try:
                        shim.stop_stream()
                    except bs.BrainFlowError:
                        pass  # the stream was not running; releasing below is what matters
                    shim.release_session()
            except bs.BrainFlowError as err:
                log.warning("could not release %s cleanly: %s", self.name, err)

    def _describe(self, err: Exception) -> str:
        code = getattr(err, "exit_code", None)
        hint = _HINTS.get(code, "check the device and its connection parameters")
        where = f" {self.where}" if self.where else ""
        return f"could not open {self.name}{where}: {err} — {hint}"

    def __repr__(self) -> str:
        return f"BrainFlowSource({self.name!r}{' ' + self.where if self.where else ''})"


def _brainflow_version() -> str:
    try:
        return metadata.version("brainflow")
    except metadata.PackageNotFoundError:  # odd installs; the version is informative only
        return ""


def open_board(
    name: str | int = "synthetic",
    *,
    file: str | os.PathLike | None = None,
    master_board: str | int | None = None,
    serial_port: str | None = None,
    mac_address: str | None = None,
    ip_address: str | None = None,
    ip_port: int | None = None,
    ip_protocol: str | int | None = None,
    serial_number: str | None = None,
    timeout: float | None = None,
    other_info: str | None = None,
    buffer_s: float = BUFFER_S,
) -> BrainFlowSource:
    """Make a :class:`BrainFlowSource` for a board named as BrainFlow names it.

    Nothing is opened yet: :meth:`BrainFlowSource.start` connects.

    Parameters
    ----------
    name : str or int
        Board name from :func:`neurofb.boards.board_names` (``"synthetic"``, ``"playback"``,
        ``"cyton"``, ``"muse_s"`` or ``"muse-s"``, …) or a BrainFlow board id.
    file : path-like, optional
        BrainFlow CSV to play back (``playback``) or the file a file-based board reads.
    master_board : str or int, optional
        For ``playback`` and ``streaming``: the board that recorded the data (default
        ``synthetic``); it fixes the file layout, channels and sampling rate.
    serial_port, mac_address, ip_address, ip_port, ip_protocol, serial_number, other_info
        Connection parameters, passed to BrainFlow unchanged (``ip_protocol``: ``"udp"``,
        ``"tcp"``).
    timeout : float, optional
        Seconds to wait for the device (BrainFlow rounds up to whole seconds).
    buffer_s : float
        Seconds of samples BrainFlow keeps between two reads.

    Raises
    ------
    BoardError
        When the name is unknown (the message lists the valid names), the board has no EEG
        channels, or a playback file is missing or does not fit the master board.
    ValueError
        When a connection parameter has the wrong form.
    """
    bs = boards.brainflow()
    board = boards.board_id(name)
    display = boards.display_name(board)
    params = bs.BrainFlowInputParams()
    where = []
    if serial_port:
        params.serial_port = str(serial_port)
        where.append(f"on {serial_port}")
    if mac_address:
        params.mac_address = str(mac_address)
        where.append(f"at {mac_address}")
    if ip_address:
        params.ip_address = str(ip_address)
        where.append(f"at {ip_address}{':' + str(ip_port) if ip_port else ''}")
    if ip_port is not None:
        if not 0 <= int(ip_port) <= 65535:
            raise ValueError(f"ip_port must be in 0..65535, got {ip_port}")
        params.ip_port = int(ip_port)
    params.ip_protocol = _ip_protocol(ip_protocol)
    if serial_number:
        params.serial_number = str(serial_number)
        where.append(f"with serial number {serial_number}")
    if timeout is not None:
        if not timeout > 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout}")
        params.timeout = math.ceil(timeout)
    if other_info:
        params.other_info = str(other_info)
    if file is not None:
        params.file = str(Path(file).expanduser().resolve())
        where.append(f"from {file}")
    if board in (bs.BoardIds.PLAYBACK_FILE_BOARD.value, bs.BoardIds.STREAMING_BOARD.value):
        master = boards.board_id(master_board if master_board is not None else "synthetic")
        if master in (bs.BoardIds.PLAYBACK_FILE_BOARD.value, bs.BoardIds.STREAMING_BOARD.value):
            raise BoardError(
                f"master board must be a real board or synthetic, got {master_board!r}"
            )
        params.master_board = master
        if board == bs.BoardIds.PLAYBACK_FILE_BOARD.value and file is None:
            raise BoardError("the playback board needs a BrainFlow CSV: pass --file PATH")
    elif master_board is not None:
        raise BoardError(f"--master-board only applies to playback and streaming, not {display}")
    return BrainFlowSource(board, params, name=display, where=" ".join(where), buffer_s=buffer_s)
