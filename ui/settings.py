"""App settings: a dataclass persisted as JSON in the user config dir, and the settings page.

The file is ``<config_dir>/app-settings.json`` (see :func:`neurofb.paths.config_dir`). A file that
cannot be read is kept aside as ``app-settings.json.bad`` and the defaults are used, with a
message in the log; the app never fails to start because of its settings.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from neurofb import paths
from neurofb.practice.reward import TARGET_RATE_RANGE, RewardConfig
from neurofb_ui.sound import SoundPlayer, sound_note

log = logging.getLogger(__name__)

SETTINGS_FILE = "app-settings.json"

#: Connection fields a BrainFlow board may need (``open_board`` keyword arguments).
#: Shortest calibration block: a 1-s block holds no 2-s window of its own kind.
MIN_CALIB_BLOCK_S = 5.0
#: The largest calibration block, number of blocks and session length the page offers.
MAX_CALIB_BLOCK_S, MAX_CALIB_BLOCKS, MAX_SESSION_MIN = 600.0, 40, 120.0

BOARD_FIELDS = (
    "serial_port",
    "mac_address",
    "ip_address",
    "ip_port",
    "ip_protocol",
    "serial_number",
    "timeout",
    "other_info",
    "file",
    "master_board",
)

#: Sources the picker offers besides a named BrainFlow board.
SOURCE_KINDS = ("demo", "synthetic", "board", "file", "lsl")

#: Feedback targets offered (``neurofb.focus.targets.make_estimator`` specs).
TARGETS = ("model", "engagement", "tbr", "smr", "alpha")

EXERCISES = ("gauge", "rocket", "clarity")

#: Mains frequencies offered ("auto" = detected from the signal; Hz; 0 = no notch).
LINE_FREQS = ("auto", 50, 60, 0)
#: Amplitude units offered for an LSL stream that gives none.
LSL_UNITS = ("auto", "uV", "mV", "V")


@dataclass
class AppSettings:
    """Everything the app remembers between runs.

    Parameters
    ----------
    user : str
        User id written into recordings and the session library.
    source : str
        ``"demo"`` (the shipped real-EEG recording), ``"synthetic"``, ``"board"`` (a BrainFlow
        board by name, see ``board``) or ``"file"`` (a recording, see ``file``); empty on first
        launch, which means the demo if it is installed, else synthetic.
    board : str
        BrainFlow board name for ``source == "board"``.
    board_fields : dict of str to str
        Connection fields of the board (serial port, MAC address, ...), by ``open_board`` name.
    file : str
        Recording to stream for ``source == "file"``.
    exercise : str
        Last exercise chosen (``gauge``, ``rocket``, ``clarity``).
    target : str
        Feedback target spec (``model``, ``engagement``, ``tbr``, ``smr``, ``alpha``, ``band:...``).
    model_dir : str
        Model folder in use (the current user's); empty for the shipped default.
    user_models : dict of str to str
        The model folder each user chose last, by user ('' for the shipped default): switching
        the user switches to theirs (a user not in it gets the shipped default).
    reward_rate : float
        Target fraction of time rewarded (0.65 = 65 %), kept by the adaptive threshold.
    volume : float
        Sound volume in [0, 1].
    muted : bool
        Sound off.
    session_min : float
        Length of an exercise session in minutes (the timer counts down; 0 = open-ended).
    rest_baseline : bool
        Start each training session with a guided rest, which the focus model takes as the
        session's baseline (baseline mode; off: cold mode).
    rest_baseline_s : float
        Length of that rest in seconds (60: what the model was trained and measured with).
    calib_block_s : float
        Length of each calibration block in seconds.
    calib_blocks : int
        Number of calibration blocks (alternating rest / task).
    record : bool
        Record every session (on by default).
    line_freq : int or "auto"
        Mains frequency in Hz to notch: ``"auto"`` (detected from the first seconds of signal),
        50 (Europe, Asia, Africa, Australia), 60 (the Americas, parts of Japan), or 0 for none.
    lsl_stream, lsl_montage, lsl_unit : str
        For ``source == "lsl"``: the LSL stream's name (empty: the first EEG stream), channel
        names for a stream that has none, and its unit when it gives none.
    lsl_out : bool
        Publish focus and markers as LSL streams (``<lsl_out_name>-Focus``, ``-Markers``).
    lsl_out_name : str
        Prefix of those streams' names.
    osc_out : str
        ``host:port`` to send OSC to; empty for none.
    """

    user: str = "me"
    source: str = ""
    board: str = "synthetic"
    board_fields: dict = field(default_factory=dict)
    file: str = ""
    exercise: str = "gauge"
    target: str = "model"
    model_dir: str = ""
    user_models: dict = field(default_factory=dict)
    reward_rate: float = RewardConfig.target_rate
    volume: float = 0.6
    muted: bool = False
    session_min: float = 5.0
    rest_baseline: bool = True
    rest_baseline_s: float = 60.0
    calib_block_s: float = 60.0
    calib_blocks: int = 6
    record: bool = True
    line_freq: int | str = "auto"
    lsl_stream: str = ""
    lsl_montage: str = ""
    lsl_unit: str = "auto"
    lsl_out: bool = False
    lsl_out_name: str = "neurofb"
    osc_out: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):  # a hand-edited file: "false" for a switch, 6.0 for a count
            value, default = getattr(self, f.name), f.default
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int) and f.name != "line_freq":
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif isinstance(default, float):
                ok = isinstance(value, int | float) and not isinstance(value, bool)
            elif isinstance(default, str) and f.name != "line_freq":
                ok = isinstance(value, str)
            else:
                ok = True  # dicts and line_freq: checked below
            if not ok:
                raise ValueError(f"{f.name} must be a {type(default).__name__}, got {value!r}")
        if self.source and self.source not in SOURCE_KINDS:
            raise ValueError(f"source must be one of {SOURCE_KINDS}, got {self.source!r}")
        lo, hi = TARGET_RATE_RANGE
        if not lo <= self.reward_rate <= hi:
            raise ValueError(f"reward_rate must be in [{lo}, {hi}], got {self.reward_rate}")
        if self.line_freq not in LINE_FREQS:
            raise ValueError(f"line_freq must be one of {LINE_FREQS}, got {self.line_freq}")
        if self.lsl_unit not in LSL_UNITS:
            raise ValueError(f"lsl_unit must be one of {LSL_UNITS}, got {self.lsl_unit!r}")
        if not self.user.strip():
            raise ValueError("give the user a name: sessions and focus models are kept per "
                             "user (a blank name would mix people's sessions)")
        if self.lsl_out and not self.lsl_out_name.strip():
            raise ValueError("the LSL output needs a stream name")
        if self.osc_out:
            from neurofb.outputs.osc import parse_address

            parse_address(self.osc_out)
        if not 0.0 <= self.volume <= 1.0:
            raise ValueError(f"volume must be in [0, 1], got {self.volume}")
        if not 10.0 <= self.rest_baseline_s <= 600.0:
            raise ValueError(f"the rest baseline must last 10-600 s, got {self.rest_baseline_s}")
        if not self.calib_block_s >= MIN_CALIB_BLOCK_S or self.calib_blocks < 2:
            raise ValueError(f"calibration needs blocks of at least {MIN_CALIB_BLOCK_S:g} s (each "
                             "holds 2-s windows of one kind) and at least 2 blocks")
        # the ranges the Settings page offers: a file edited by hand (or by an older release)
        # beyond them would run what the page cannot show
        if not (self.calib_block_s <= MAX_CALIB_BLOCK_S and self.calib_blocks <= MAX_CALIB_BLOCKS):
            raise ValueError(f"calibration blocks last at most {MAX_CALIB_BLOCK_S:g} s and number "
                             f"at most {MAX_CALIB_BLOCKS}")
        if not 0.0 <= self.session_min <= MAX_SESSION_MIN:
            raise ValueError(f"a session lasts 0 (no limit) to {MAX_SESSION_MIN:g} min, got "
                             f"{self.session_min}")
        if self.exercise not in EXERCISES:
            raise ValueError(f"exercise must be one of {EXERCISES}, got {self.exercise!r}")
        check_target(self.target)
        if not isinstance(self.user_models, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.user_models.items()):
            raise ValueError("user_models must map user names to model folders")
        unknown = set(self.board_fields) - set(BOARD_FIELDS)
        if unknown:
            raise ValueError(f"unknown board fields {sorted(unknown)}; known: {BOARD_FIELDS}")

    @property
    def path(self) -> Path:
        """The settings file."""
        return settings_path()

    def save(self) -> Path:
        """Write the settings atomically; return the file."""
        path = settings_path()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def with_(self, **changes: object) -> AppSettings:
        """Return a copy with some fields changed."""
        return replace(self, **changes)


def settings_path() -> Path:
    """Return the settings file in the user config dir."""
    return paths.config_dir() / SETTINGS_FILE


def load_settings() -> AppSettings:
    """Read the settings, or return defaults when there is no readable file."""
    path = settings_path()
    if not path.exists():
        return AppSettings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as err:
        bad = path.with_name(path.name + ".bad")
        os.replace(path, bad)
        log.warning("settings file %s unreadable (%s); kept as %s, using defaults", path, err, bad)
        return AppSettings()
    known = {f.name for f in fields(AppSettings)}
    values = {k: v for k, v in raw.items() if k in known}
    try:
        return AppSettings(**values)
    except (ValueError, TypeError):
        # one value out of range (an older release allowed it, or a hand edit) costs that
        # value only, not the user's name, model and every other choice
        settings, refused = AppSettings(), []
        for key, value in values.items():
            try:
                settings = replace(settings, **{key: value})
            except (ValueError, TypeError) as err:
                refused.append(f"{key} ({err})")
        log.warning("settings file %s: %s refused, the default used instead", path,
                    "; ".join(refused))
        return settings


def check_target(text: str) -> str:
    """The feedback target ``text`` names (empty: the model).

    Raises
    ------
    ValueError
        When the engine does not know the target
        (:func:`neurofb.focus.bandpower.parse_target` says why).
    """
    from neurofb.errors import ModelError
    from neurofb.focus.bandpower import parse_target

    name = text.strip() or "model"
    if name.lower() == "model":
        return "model"
    try:
        parse_target(name)
    except ModelError as err:
        raise ValueError(str(err)) from None
    return name


@dataclass(frozen=True)
class _Field:
    """One setting on the page: its widget, how to read and show its value, its error line."""

    widget: QWidget
    get: Callable[[], object]
    put: Callable[[object], None]
    error: QLabel
    #: Line edit holding text the user has typed but not committed (kept on outside changes).
    edit: QLineEdit | None = None
    #: The frame around the widget, red while the value shown is refused.
    frame: QFrame | None = None


def _frame_style(message: str) -> str:
    """The style of a field's frame: red around a refused value, otherwise a transparent
    border of the same width (the field keeps its place and size either way)."""
    colour = "#d32f2f" if message else "transparent"
    return f"QFrame#field_frame {{ border: 2px solid {colour}; border-radius: 3px; }}"


class SettingsPage(QWidget):
    """Edit :class:`AppSettings`; emits ``changed`` with the new settings after each edit.

    Each field is saved on its own when its edit is complete (a line edit when editing is
    finished, the feedback target when it is a valid target): a value the settings refuse is
    marked in red with the reason under the field, and the other fields still save. Where the
    app's sound ``player`` cannot play, the Sound box says why and its controls are disabled.
    """

    changed = pyqtSignal(object)

    def __init__(self, settings: AppSettings, player: SoundPlayer,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.fields: dict[str, _Field] = {}
        lay = QVBoxLayout(self)

        who = QGroupBox("You")
        form = QFormLayout(who)
        self.user = QLineEdit()
        self.user.setPlaceholderText("a name or id, saved with your sessions")
        self.user.setToolTip("Each user keeps their own focus model: changing the user "
                             "switches to theirs")
        self._line_field(form, "User", "user", self.user)
        lay.addWidget(who)

        train = QGroupBox("Training")
        form = QFormLayout(train)
        self.exercise = QComboBox()
        self.exercise.addItems(EXERCISES)
        self._field(form, "Exercise", "exercise", self.exercise, self.exercise.currentText,
                    self.exercise.setCurrentText, self.exercise.currentTextChanged)
        self.target = QComboBox()
        self.target.setEditable(True)
        self.target.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.target.addItems(TARGETS)
        self.target.setToolTip(
            "What the feedback follows: the attention model, or a band-power target "
            "(engagement, theta/beta down, SMR up, alpha up, or band:beta/theta@Fz,Cz); "
            "saved when you press Enter or leave the field"
        )
        self._field(form, "Feedback target", "target", self.target,
                    lambda: check_target(self.target.currentText()), self.target.setCurrentText,
                    self.target.lineEdit().editingFinished, self.target.activated,
                    edit=self.target.lineEdit())
        #: When the training settings take effect.
        self.applies = QLabel("The target, the model and the mains setting apply from the next "
                              "connection; the reward rate at once, to a running session too.")
        self.applies.setWordWrap(True)
        self.applies.setStyleSheet("color: #666;")
        # a row of its own across the form: a wrapped label in the field column is given the
        # height of its narrowest layout, a blank gap above one line of text
        form.addRow(self.applies)
        self.reward_rate = QSpinBox()
        self.reward_rate.setRange(round(TARGET_RATE_RANGE[0] * 100),
                                  round(TARGET_RATE_RANGE[1] * 100))
        self.reward_rate.setSuffix(" %")
        self.reward_rate.setToolTip("The threshold adapts so you are rewarded about this often")
        self._field(form, "Reward rate", "reward_rate", self.reward_rate,
                    lambda: self.reward_rate.value() / 100,
                    lambda v: self.reward_rate.setValue(round(v * 100)),
                    self.reward_rate.valueChanged)
        self.session_min = QDoubleSpinBox()
        self.session_min.setRange(0, MAX_SESSION_MIN)
        self.session_min.setSuffix(" min")
        self.session_min.setSpecialValueText("no limit")
        self._spin_field(form, "Session length", "session_min", self.session_min)
        self.rest_baseline = QCheckBox("Start each session with a rest baseline (recommended)")
        self.rest_baseline.setToolTip(
            "Baseline mode: before the exercise, sit still with eyes open; the focus model "
            "then reads your focus relative to your own rest in this session (off: cold mode, "
            "the population model as it is). Only with the model as the feedback target.")
        self._check_field(form, "Baseline", "rest_baseline", self.rest_baseline)
        self.rest_baseline_s = QDoubleSpinBox()
        self.rest_baseline_s.setRange(10, 600)
        self.rest_baseline_s.setSuffix(" s")
        self.rest_baseline_s.setToolTip("60 s is what the model was trained and measured with")
        self._spin_field(form, "Rest baseline length", "rest_baseline_s", self.rest_baseline_s)
        self.record = QCheckBox("Record every session (recommended)")
        self._check_field(form, "", "record", self.record)
        lay.addWidget(train)

        calib = QGroupBox("Calibration")
        form = QFormLayout(calib)
        self.calib_block_s = QDoubleSpinBox()
        self.calib_block_s.setRange(MIN_CALIB_BLOCK_S, MAX_CALIB_BLOCK_S)
        self.calib_block_s.setSuffix(" s")
        self._spin_field(form, "Block length", "calib_block_s", self.calib_block_s)
        self.calib_blocks = QSpinBox()
        self.calib_blocks.setRange(2, MAX_CALIB_BLOCKS)
        self._spin_field(form, "Blocks (rest / task)", "calib_blocks", self.calib_blocks)
        lay.addWidget(calib)

        signal = QGroupBox("Signal")
        form = QFormLayout(signal)
        self.line_freq = QComboBox()
        for hz in LINE_FREQS:
            self.line_freq.addItem("auto (detect 50/60 Hz)" if hz == "auto" else
                                   f"{hz} Hz" if hz else "no notch", hz)
        self.line_freq.setToolTip("The mains frequency where you are: 50 Hz in Europe, Asia, "
                                  "Africa and Australia, 60 Hz in the Americas; auto detects it "
                                  "from the first seconds of signal")
        self._field(form, "Mains", "line_freq", self.line_freq, self.line_freq.currentData,
                    lambda v: self.line_freq.setCurrentIndex(LINE_FREQS.index(v)),
                    self.line_freq.currentIndexChanged)
        lay.addWidget(signal)

        outputs = QGroupBox("Other programs (applies from the next connection)")
        form = QFormLayout(outputs)
        self.lsl_out = QCheckBox("Publish focus and markers over LSL")
        self.lsl_out.setToolTip("LSL streams <name>-Focus and <name>-Markers, for LabRecorder, "
                                "games and LSL4Unity (docs/outputs.md)")
        self._check_field(form, "LSL out", "lsl_out", self.lsl_out)
        self.lsl_out_name = QLineEdit()
        self._line_field(form, "LSL stream name", "lsl_out_name", self.lsl_out_name,
                         default="neurofb")
        self.osc_out = QLineEdit()
        self.osc_out.setPlaceholderText("host:port, e.g. 127.0.0.1:12345 (empty: off)")
        self.osc_out.setToolTip("Send focus, quality, band powers and rewards as OSC "
                                "(neurofb's and OpenBCI GUI's addresses)")
        self._line_field(form, "OSC out", "osc_out", self.osc_out)
        lay.addWidget(outputs)

        sound = QGroupBox("Sound")
        form = QFormLayout(sound)
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self._field(form, "Volume", "volume", self.volume, lambda: self.volume.value() / 100,
                    lambda v: self.volume.setValue(round(v * 100)), self.volume.valueChanged)
        self.muted = QCheckBox("Mute")
        self._check_field(form, "", "muted", self.muted)
        self.sound_note = sound_note(player, self.volume, self.muted)
        form.insertRow(0, "", self.sound_note)
        lay.addWidget(sound)

        self.saved = QLabel(f"Saved in {settings_path()}")
        self.saved.setWordWrap(True)
        self.saved.setStyleSheet("color: #666;")
        lay.addWidget(self.saved)
        reset = QPushButton("Restore defaults")
        reset.clicked.connect(self._reset)
        lay.addWidget(reset)
        lay.addStretch(1)

    # -- fields -----------------------------------------------------------------------------
    def _field(self, form: QFormLayout, label: str, name: str, widget: QWidget,
               get: Callable[[], object], put: Callable[[object], None], *signals: Any,
               edit: QLineEdit | None = None) -> None:
        """Add ``widget`` editing the setting ``name``; each of ``signals`` saves it."""
        error = QLabel()
        error.setWordWrap(True)
        error.setStyleSheet("color: #b71c1c;")
        error.hide()
        box = QWidget()
        bl = QVBoxLayout(box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(2)
        # the error frame is drawn around the widget, not on it: a style sheet on the widget
        # itself drops the native style's padding (a combo box shrank to a cut-off strip)
        frame = QFrame()
        frame.setObjectName("field_frame")
        frame.setStyleSheet(_frame_style(""))
        fl = QVBoxLayout(frame)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(widget)
        bl.addWidget(frame)
        bl.addWidget(error)
        form.addRow(label, box)
        self.fields[name] = _Field(widget, get, put, error, edit, frame)
        put(getattr(self._settings, name))
        for signal in signals:
            signal.connect(lambda *_args, n=name: self.commit(n))

    def _line_field(self, form: QFormLayout, label: str, name: str, edit: QLineEdit,
                    default: str = "") -> None:
        self._field(form, label, name, edit, lambda: edit.text().strip() or default,
                    edit.setText, edit.editingFinished, edit=edit)

    def _spin_field(self, form: QFormLayout, label: str, name: str,
                    spin: QSpinBox | QDoubleSpinBox) -> None:
        self._field(form, label, name, spin, spin.value, spin.setValue, spin.valueChanged)

    def _check_field(self, form: QFormLayout, label: str, name: str, box: QCheckBox) -> None:
        self._field(form, label, name, box, box.isChecked, box.setChecked, box.toggled)

    def error(self, name: str) -> str:
        """Why the value shown for setting ``name`` was not saved ('' when it was)."""
        f = self.fields[name]
        return f.error.text() if not f.error.isHidden() else ""

    def _mark(self, name: str, message: str) -> None:
        f = self.fields[name]
        f.error.setText(message)
        f.error.setVisible(bool(message))
        if f.frame is not None:
            f.frame.setStyleSheet(_frame_style(message))

    # -- saving ------------------------------------------------------------------------------
    @property
    def settings(self) -> AppSettings:
        """The settings as last saved."""
        return self._settings

    def set_settings(self, settings: AppSettings) -> None:
        """Show settings changed elsewhere (source picker, exercise page, model page) without
        re-saving. A field with a refused value or text being typed keeps it."""
        self._settings = settings
        for name, f in self.fields.items():
            if self.error(name) or (f.edit is not None and f.edit.isModified()):
                continue
            f.widget.blockSignals(True)
            try:
                f.put(getattr(settings, name))
            finally:
                f.widget.blockSignals(False)

    def commit(self, name: str) -> bool:
        """Save the setting ``name`` as its field shows it; return whether it was saved.

        A value the settings refuse is marked on its field (:meth:`error`) and not saved.
        """
        f = self.fields[name]
        try:
            new = self._settings.with_(**{name: f.get()})
        except ValueError as err:
            self._mark(name, str(err))
            self.saved.setText(f"{name.replace('_', ' ').capitalize()} not saved: see above.")
            return False
        self._mark(name, "")
        if f.edit is not None:
            f.edit.setModified(False)
        if new == self._settings:
            return True
        return self._save(new)

    def _save(self, new: AppSettings) -> bool:
        self._settings = new
        try:
            path = new.save()
        except OSError as err:
            self.saved.setText(f"Could not save settings: {err}")
        else:
            refused = [n.replace("_", " ") for n in self.fields if self.error(n)]
            self.saved.setText(f"Saved in {path}" + (
                f" — except {', '.join(refused)}: see above" if refused else ""))
        self.changed.emit(new)
        return True

    def _reset(self) -> None:
        # the page's fields go back to their defaults; the source, the model and the user
        # stay (resetting the user would file the next sessions under someone else)
        kept = {f.name for f in fields(AppSettings) if f.name not in self.fields} | {"user"}
        defaults = AppSettings(**{name: getattr(self._settings, name) for name in kept})
        for name in self.fields:
            self._mark(name, "")
            edit = self.fields[name].edit
            if edit is not None:
                edit.setModified(False)
        self.set_settings(defaults)
        self._save(defaults)
