"""The source picker: demo recording, synthetic board, any BrainFlow board, any recording file, any
LSL EEG stream.

It only collects a :class:`SourceSpec` and shows the connection state; opening the source is the
stream controller's job (:mod:`neurofb_ui.stream`), on a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from neurofb import paths
from neurofb.boards import board_names
from neurofb_ui.settings import BOARD_FIELDS, LSL_UNITS, AppSettings

DEMO_NAME = "demo-eegmat"

KIND_LABELS = {
    "demo": "Demo recording (real EEG)",
    "synthetic": "Synthetic board",
    "board": "BrainFlow board…",
    "file": "Recording file…",
    "lsl": "LSL stream…",
}

FIELD_HINTS = {
    "serial_port": "e.g. /dev/ttyUSB0 or COM3 (Cyton, Ganglion dongle)",
    "mac_address": "e.g. 00:55:DA:B0:00:00 (Bluetooth boards)",
    "ip_address": "e.g. 192.168.4.1 (WiFi shield, streaming boards)",
    "ip_port": "e.g. 6677",
    "ip_protocol": "udp or tcp (streaming boards)",
    "serial_number": "e.g. Muse-1234 (Muse, some BLE boards)",
    "timeout": "seconds to wait for the board, e.g. 15",
    "other_info": "board-specific extra option",
    "file": "data file (playback board)",
    "master_board": "board that recorded the file (playback, streaming)",
}


def demo_path() -> str:
    """The shipped demo recording's folder, or '' when it is not installed."""
    p = paths.shipped_recordings_dir() / DEMO_NAME
    return str(p) if p.exists() else ""


@dataclass(frozen=True)
class SourceSpec:
    """What to stream: ``kind`` in ``demo``, ``synthetic``, ``board``, ``file``, ``lsl``.

    For ``lsl``, ``fields`` holds ``stream`` (name; empty for the first EEG stream), ``montage``
    and ``unit``. ``remember`` False: a one-off choice (a replay from History) that the saved
    settings do not keep.
    """

    kind: str
    board: str = "synthetic"
    fields: dict = field(default_factory=dict)
    file: str = ""
    start_s: float = 0.0  # where a replay starts, seconds into the recording
    remember: bool = True

    @property
    def label(self) -> str:
        """A short human name."""
        if self.kind == "board":
            return f"board {self.board}"
        if self.kind == "file":
            return f"recording {self.file}"
        if self.kind == "lsl":
            return f"LSL stream {self.fields.get('stream') or '(first EEG stream)'}"
        return KIND_LABELS[self.kind]


def default_kind(settings: AppSettings) -> str:
    """The source to offer: the saved one, else the demo if installed, else synthetic."""
    if settings.source:
        return settings.source
    return "demo" if demo_path() else "synthetic"


class SourcePanel(QGroupBox):
    """Pick a source; emits ``connect_requested(SourceSpec)`` or ``disconnect_requested``."""

    connect_requested = pyqtSignal(object)
    disconnect_requested = pyqtSignal()

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__("Source", parent)
        self.connected = False
        self.busy = False
        lay = QVBoxLayout(self)
        self.kind = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind.addItem(label, kind)
        lay.addWidget(self.kind)

        self.board_box = QWidget()
        form = QFormLayout(self.board_box)
        form.setContentsMargins(0, 0, 0, 0)
        self.board = QComboBox()
        self.board.addItems(board_names())
        self.board.setCurrentText(settings.board)
        form.addRow("Board", self.board)
        self.fields: dict[str, QLineEdit] = {}
        for name in BOARD_FIELDS:
            edit = QLineEdit(str(settings.board_fields.get(name, "")))
            edit.setPlaceholderText(FIELD_HINTS[name])
            edit.setToolTip(FIELD_HINTS[name])
            self.fields[name] = edit
            form.addRow(name.replace("_", " "), edit)
        lay.addWidget(self.board_box)

        self.file_box = QWidget()
        fl = QHBoxLayout(self.file_box)
        fl.setContentsMargins(0, 0, 0, 0)
        self.file = QLineEdit(settings.file)
        self.file.setPlaceholderText("neurofb folder, EDF, BDF, FIF, BrainFlow CSV, XDF, "
                                     "OpenBCI GUI .txt, Mind Monitor or muselsl CSV")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        fl.addWidget(self.file, 1)
        fl.addWidget(browse)
        lay.addWidget(self.file_box)

        self.lsl_box = QWidget()
        form = QFormLayout(self.lsl_box)
        form.setContentsMargins(0, 0, 0, 0)
        self.lsl_stream = QLineEdit(settings.lsl_stream)
        self.lsl_stream.setPlaceholderText("e.g. obci_eeg1 (empty: the first EEG stream)")
        form.addRow("Stream name", self.lsl_stream)
        self.lsl_montage = QLineEdit(settings.lsl_montage)
        self.lsl_montage.setPlaceholderText("if the stream names no channels: cyton, muse, Fz,Cz…")
        form.addRow("Montage", self.lsl_montage)
        self.lsl_unit = QComboBox()
        self.lsl_unit.addItems(LSL_UNITS)
        self.lsl_unit.setCurrentText(settings.lsl_unit)
        self.lsl_unit.setToolTip("Unit of a stream that gives none (the OpenBCI GUI's); auto "
                                 "guesses µV or V from the signal and says so")
        form.addRow("Unit", self.lsl_unit)
        lay.addWidget(self.lsl_box)

        self.button = QPushButton("Connect")
        self.button.setDefault(True)
        self.button.clicked.connect(self._clicked)
        lay.addWidget(self.button)
        self.state = QLabel()
        self.state.setWordWrap(True)
        lay.addWidget(self.state)

        kind = default_kind(settings)
        idx = self.kind.findData(kind)
        self.kind.setCurrentIndex(max(idx, 0))
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()
        self.set_state("disconnected", "")

    def spec(self) -> SourceSpec:
        """The source currently chosen."""
        kind = self.kind.currentData()
        fields = {k: e.text().strip() for k, e in self.fields.items() if e.text().strip()}
        if kind == "lsl":
            fields = {"stream": self.lsl_stream.text().strip(),
                      "montage": self.lsl_montage.text().strip(),
                      "unit": self.lsl_unit.currentText()}
        file = demo_path() if kind == "demo" else self.file.text().strip()
        return SourceSpec(kind=kind, board=self.board.currentText(), fields=fields, file=file)

    def select(self, spec: SourceSpec) -> None:
        """Show ``spec`` in the picker (used by ``--source`` / ``--board`` on the command line)."""
        self.kind.setCurrentIndex(max(self.kind.findData(spec.kind), 0))
        if spec.kind == "board":
            self.board.setCurrentText(spec.board)
            for k, e in self.fields.items():
                e.setText(str(spec.fields.get(k, "")))
        if spec.kind == "file":
            self.file.setText(spec.file)
        if spec.kind == "lsl":
            self.lsl_stream.setText(spec.fields.get("stream", ""))
            self.lsl_montage.setText(spec.fields.get("montage", ""))
            self.lsl_unit.setCurrentText(spec.fields.get("unit", "auto"))

    def set_state(self, state: str, message: str) -> None:
        """Show ``state`` (``disconnected``, ``connecting``, ``connected``, ``error``, ...)."""
        self.connected = state in ("connected", "stalled", "reconnecting")
        self.busy = state in ("connecting", "disconnecting")
        colours = {"connected": "#2e7d32", "connecting": "#e0a100", "stalled": "#e0a100",
                   "reconnecting": "#e0a100", "error": "#c62828"}
        col = colours.get(state, "#757575")
        self.state.setText(f"<span style='color:{col}'>●</span> {state}"
                           + (f"<br><small>{message}</small>" if message else ""))
        self.button.setText("Disconnect" if self.connected else "Connect")
        self.button.setEnabled(not self.busy)
        for w in (self.kind, self.board_box, self.file_box, self.lsl_box):
            w.setEnabled(not self.connected and not self.busy)

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self.board_box.setVisible(kind == "board")
        self.file_box.setVisible(kind == "file")
        self.lsl_box.setVisible(kind == "lsl")
        if kind == "demo" and not demo_path():
            self.state.setText("The demo recording is not installed; pick another source.")

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a recording", self.file.text(),
            "Recordings (*.json *.edf *.bdf *.fif *.csv *.txt *.xdf);;All files (*)",
        )
        if path:
            self.file.setText(path)

    def _clicked(self) -> None:
        if self.connected:
            self.disconnect_requested.emit()
        else:
            self.connect_requested.emit(self.spec())
