"""The focus model page: the current model's card, personalisation, retraining, switching.

Reading model cards, personalising (:func:`neurofb.training.personalise.personalise`) and
retraining from the library's labelled recordings run on worker threads with a progress bar and
a Cancel button; the page only shows what the engine reports. New models are written to
``<data dir>/models/``; every earlier model stays there and can be switched back to.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from neurofb import paths
from neurofb.errors import ChannelError, NeurofbError
from neurofb.focus.card import ModelCard, read_meta
from neurofb_ui.headmap import HeadMap
from neurofb_ui.qt_bridge import Task, start_task

log = logging.getLogger(__name__)

MODEL_FILE = "model.json"
#: The model.json field in which the app records whom a personalised model was calibrated for.
USER_FIELD = "calibrated_for"


@dataclass(frozen=True)
class ModelEntry:
    """A model folder and what its card says."""

    path: str
    name: str
    created: str
    shipped: bool
    card: ModelCard
    #: For a personalised model whose calibration came from no headset: what it came from
    #: (:func:`calibration_source`); '' otherwise or when not known.
    calibration_source: str = ""
    #: For a personalised model: the user it was calibrated for ('' when not known); shipped
    #: and retrained models are for everyone.
    user: str = ""


def calibration_source(recording: str) -> str:
    """What a calibration recording came from when that was not a headset: "the synthetic
    board" or "a replayed recording" ('' for a headset, or when its meta.json cannot be read).

    The calibration page warns of the same sources (a stream that is not live, or simulated);
    the recording keeps them in its meta.json: ``source.replay`` of a replay, ``board`` of
    BrainFlow's synthetic board.
    """
    from types import SimpleNamespace

    from neurofb.recording.base import recorded_simulation
    from neurofb.recording.folder import read_meta

    try:
        meta = read_meta(recording)
    except (NeurofbError, OSError):
        return ""
    source = meta.get("source") if isinstance(meta.get("source"), dict) else {}
    if "replay" in source:
        return "a replayed recording"
    if recorded_simulation(SimpleNamespace(info=None, meta=meta)):  # the engine's own test
        return "the synthetic board"
    if source.get("board_id") == -3:  # BrainFlow's playback board: a file played back
        return "a replayed recording (BrainFlow's playback board)"
    return ""


def created_time(created: str) -> dt.datetime:
    """A model card's ``created`` as an aware datetime (naive taken as UTC; the earliest time
    when missing or unreadable), so models written in any ISO form sort by time."""
    try:
        when = dt.datetime.fromisoformat(created.strip())
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def model_user(meta: dict) -> str:
    """Whom a model was calibrated for, from its model.json ('' unless personalised)."""
    user = meta.get(USER_FIELD) if meta.get("personal") else None
    return user if isinstance(user, str) else ""


def folder_user(path: str) -> str:
    """Whom the model in folder ``path`` was calibrated for ('' for everyone, or unreadable)."""
    try:
        return model_user(read_meta(path))
    except NeurofbError:
        return ""


def personal_models_dir() -> Path:
    """Where personalised and retrained models are written (``<data dir>/models``)."""
    folder = paths.data_dir() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def list_models() -> list[ModelEntry]:
    """Every model folder, shipped or the user's, newest first (worker thread)."""
    out: list[ModelEntry] = []
    for root, shipped in ((paths.shipped_models_dir(), True), (personal_models_dir(), False)):
        if not root.is_dir():
            continue
        for file in root.glob(f"*/{MODEL_FILE}"):
            try:
                meta = read_meta(file.parent)
            except NeurofbError as err:
                log.warning("model card %s unreadable: %s", file, err)
                continue
            card = ModelCard.from_meta(file.parent, meta)
            source = next(filter(None, map(calibration_source, card.calibration_data)), "")
            out.append(ModelEntry(str(file.parent), file.parent.name, card.created, shipped,
                                  card, source, "" if shipped else model_user(meta)))
    return sorted(out, key=lambda m: created_time(m.created), reverse=True)


def model_setting(path: str) -> str:
    """The settings' value for the model folder ``path`` ('' for the shipped default)."""
    default = paths.default_model_dir().resolve()
    return "" if Path(path).resolve() == default else str(path)


def population_model(model_dir: str) -> str:
    """The model a personalisation starts from: ``model_dir`` itself, or, when it is
    personalised already, the population model it came from (model.json ``parent``: its path,
    holding the weights it records).

    Raises
    ------
    NeurofbError
        A personalised model whose population model is not there as it was.
    """
    meta = read_meta(model_dir)
    if not meta.get("personal"):
        return model_dir
    parent = meta.get("parent") if isinstance(meta.get("parent"), dict) else {}
    path = str(parent.get("path") or "")
    try:
        found = read_meta(path) if path and Path(path).is_dir() else None
    except NeurofbError:
        found = None
    if (found is not None and not found.get("personal")
            and found.get("weights", {}).get("sha256") == parent.get("sha256")):
        return path
    raise NeurofbError(
        f"{Path(model_dir).name} is personalised, and the population model it came from "
        f"({path or 'not recorded'}) is not there as it was: choose a population model (Use), "
        "then Personalise")


def new_model_dir(base: str, kind: str) -> Path:
    """A fresh folder name for a model derived from ``base`` (``kind``: personal, retrained)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = f"{Path(base).name.split('--')[0]}--{kind}-{stamp}"
    out, k = personal_models_dir() / stem, 2
    while out.exists():
        out, k = personal_models_dir() / f"{stem}-{k}", k + 1
    return out


class JobCancelled(NeurofbError):
    """The user cancelled a personalisation or retraining."""


def run_personalise(model_dir: str, recording: str, out_dir: str, user: str = "", *,
                    progress: Any, cancel: Any) -> dict:
    """Personalise ``model_dir`` with a calibration recording of ``user`` (worker thread).

    Returns :func:`neurofb.training.personalise.personalise`'s report (``before``/``after``
    metrics on held-back windows, ``out_dir``) with ``source``: what the calibration came from
    when that was not a headset (:func:`calibration_source`). The new model's model.json says
    whom it was calibrated for (:data:`USER_FIELD`).
    """
    from neurofb.focus.io import write_meta
    from neurofb.training.personalise import personalise

    progress(0.1, "fitting your personal head on the calibration…")
    if cancel.is_set():
        raise JobCancelled("cancelled: the model in use is unchanged")
    report = personalise(model_dir, recording, out_dir)
    if user:
        write_meta(report["out_dir"], {**read_meta(report["out_dir"]), USER_FIELD: user})
    return {**report, "source": calibration_source(recording)}


def run_retrain(model_dir: str, recordings: list[str], out_dir: str, *, progress: Any,
                cancel: Any, max_epochs: int = 10) -> dict:
    """Retrain the model in use on the user's labelled recordings (worker thread).

    :func:`neurofb.training.retrain.retrain_from_recordings` (what ``neurofb train --recordings
    ... --init MODEL`` does), with the job's progress and cancel.
    """
    from dataclasses import replace

    import torch

    from neurofb.errors import NeurofbError
    from neurofb.training.retrain import RETRAIN_RECIPE, retrain_from_recordings
    from neurofb.training.train import Cancelled

    torch.set_num_threads(1)
    progress(0.0, "reading your labelled recordings…")
    recordings, left_out = usable_recordings(recordings)
    if not recordings:
        raise JobCancelled("retraining failed: none of your labelled recordings fits the focus "
                           "model: " + "; ".join(left_out))
    recipe = replace(RETRAIN_RECIPE, max_epochs=max_epochs)
    members = recipe.n_members

    def epoch(row: dict) -> None:
        k = (0 if row["mode"] == "cold" else members) + int(row["member"])
        done = (k + min(int(row["epoch"]) / recipe.max_epochs, 1.0)) / (2 * members)
        progress(done, f"retraining the {row['mode']} model: member {row['member'] + 1} of "
                       f"{members}, epoch {row['epoch']}")

    try:
        result = retrain_from_recordings(
            model_dir, recordings, out_dir, recipe=recipe, device="cpu", progress=epoch,
            cancel=cancel.is_set,
            on_skip=lambda line: left_out.append(_left_out_line(line)))
        return {**result, "left_out": left_out}
    except Cancelled:
        raise JobCancelled("cancelled: the model in use is unchanged") from None
    except (ValueError, NeurofbError) as err:
        raise JobCancelled(f"retraining failed: {err}") from None


def _left_out_line(line: str) -> str:
    """``"NAME (why)"`` of a training loader's ``"PATH left out: why"``."""
    path, _, why = line.partition(" left out: ")
    return f"{Path(path).name} ({why})" if why else line


def usable_recordings(recordings: list[str]) -> tuple[list[str], list[str]]:
    """The recordings whose channels the focus model can read (3 or more 10-20/10-10
    electrodes), and a line for each of the others (a calibration on a board with unnamed
    channels must not make every retrain fail)."""
    from neurofb.dsp import montage
    from neurofb.recording.folder import read_meta

    usable, left_out = [], []
    for rec in recordings:
        try:
            names = [str(n) for n in read_meta(rec).get("ch_names") or []]
        except (NeurofbError, OSError) as err:
            left_out.append(f"{Path(rec).name} (cannot be read: {err})")
            continue
        known = sum(montage.normalise_name(n) is not None for n in names)
        if known < montage.MIN_CHANNELS:
            left_out.append(f"{Path(rec).name} ({known} of its {len(names)} channels are "
                            f"10-20/10-10 electrodes; the model needs {montage.MIN_CHANNELS})")
            continue
        try:
            montage.match(names)
        except ChannelError as err:  # two channels naming one electrode, say
            left_out.append(f"{Path(rec).name} ({err})")
        else:
            usable.append(rec)
    return usable, left_out


def calibration_recordings(library_path: str | None, user: str) -> list[str]:
    """Recording folders of ``user``'s calibration sessions in the library, newest first
    (worker thread): one person's model is never personalised or retrained on another's EEG."""
    from neurofb.library.index import SessionLibrary

    lib = SessionLibrary(library_path)
    try:
        rows = lib.list_sessions(user=user)
    finally:
        lib.close()
    recs = [r.recording_path for r in rows
            if r.exercise == "calibration" and r.recording_path
            and Path(r.recording_path).exists()]
    return list(reversed(recs))


def personalise_problems(before: dict, after: dict) -> list[str]:
    """Why a personalised model is not shown useful on its held-back calibration windows
    (empty when it is: AUC at least the model in use's and above chance, balanced accuracy not
    lower).

    ``before``/``after``: :func:`neurofb.training.personalise.personalise`'s metrics of the
    model in use and of the personalised one.
    """
    auc0, auc1 = before.get("auc"), after.get("auc")
    if not all(isinstance(v, (int, float)) for v in (auc0, auc1)):
        return ["AUC not measured"]
    problems = []
    if not auc1 >= auc0:  # NaN fails too
        problems.append("AUC fell")
    bac0, bac1 = before.get("balanced_accuracy"), after.get("balanced_accuracy")
    if (all(isinstance(v, (int, float)) for v in (bac0, bac1))
            and not bac1 >= bac0):
        problems.append("balanced accuracy fell")
    if not auc1 > 0.5:
        problems.append("AUC not above chance (0.5)")
    return problems


def _num(value: Any) -> str:
    """A metric as text: a number, or ``mean ± sd`` for a [mean, sd] pair."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.3f}"
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) for v in value)):
        return f"{value[0]:.3f} ± {value[1]:.3f}"
    return ""


_METHOD_NAMES = {"model": "model", "model_cold_head": "model (cold + head)",
                 "bandpower+LR": "band power + LR", "deviation_control": "deviation control",
                 "brainflow_concentration": "BrainFlow concentration"}


def metric_rows(metrics: dict) -> list[tuple[str, str]]:
    """Readable rows of a model card's metrics.

    Scalars are shown as they are; a cross-validation ``summary`` (mode → layout → method →
    metrics) becomes one row per mode and layout comparing the model's AUC (mean ± sd over the
    folds) with the baselines'. Anything else is left to model.json.
    """
    rows: list[tuple[str, str]] = []
    for key, value in metrics.items():
        text = _num(value)
        if text:
            rows.append((key.replace("_", " "), text))
            continue
        summary = value.get("summary") if isinstance(value, dict) else None
        if not isinstance(summary, dict):
            continue
        for mode, layouts in summary.items():
            for layout, methods in (layouts.items() if isinstance(layouts, dict) else ()):
                parts = []
                for method, res in methods.items():
                    if isinstance(res, dict) and _num(res.get("auc")):
                        sd = res.get("auc_sd")
                        parts.append(f"{_METHOD_NAMES.get(method, method)} {res['auc']:.2f}"
                                     + (f" ± {sd:.2f}" if isinstance(sd, float) else ""))
                label = f"{key.replace('_', ' ')}, {mode} mode, {layout}: AUC"
                rows.append((label, ", ".join(parts)))
    return rows


def card_html(entry: ModelEntry, user: str = "") -> str:
    """The model card as HTML: what it is, what it was trained on, how well it does
    (``user``: the current user, to say when the model was calibrated for someone else)."""
    c = entry.card
    n_par = "?" if c.n_parameters is None else str(c.n_parameters)
    rows = [
        ("Model", f"{c.name} ({'shipped' if entry.shipped else 'yours'})"),
        *([("Calibrated for", entry.user + (" (not the current user)"
                                            if user and entry.user != user else ""))]
          if entry.user else []),
        ("Folder", entry.path),
        ("Created", entry.created or "–"),
        ("Architecture", f"{c.architecture or '?'}, {n_par} parameters"),
        ("Input", f"{c.window_s if c.window_s is not None else '?'} s windows at the stream's "
                  f"own rate, any 3+ of {len(c.channels)} trained electrodes"),
        ("Modes", ", ".join(c.modes) or "cold"),
        ("Trained on", "; ".join([*c.training, *([f"on {c.trained_on_device}"]
                                                 if c.trained_on_device else [])]) or "–"),
    ]
    if c.calibration_data:
        names = ", ".join(Path(f).name for f in c.calibration_data)
        rows.append(("Personalised on", f"your calibration {names}" + (
            f" (from {entry.calibration_source}, not a headset)"
            if entry.calibration_source else "")))
    if c.task:
        rows.append(("Focus means", c.task))
    if c.parent:
        rows.append(("Derived from", c.parent))
    for gain in c.calibration:
        rows.append((f"{gain.metric.replace('_', ' ')} before → after personalising",
                     f"{gain.before:.3f} → {gain.after:.3f}"))
    rows += metric_rows(dict(c.metrics))
    if c.personal_sha256:
        rows.append(("Personal head SHA-256", c.personal_sha256[:16] + "…"))
    if c.weights_sha256:
        rows.append(("Network weights SHA-256 (its parent's)" if c.personal_sha256
                     else "Weights SHA-256", c.weights_sha256[:16] + "…"))
    cells = "".join(f"<tr><td style='padding-right:14px;color:#555'>{k}</td>"
                    f"<td><b>{v}</b></td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


class ModelPage(QWidget):
    """Show the model in use; personalise, retrain, or switch to another model."""

    def __init__(self, window: Any) -> None:
        super().__init__()
        self.window = window
        self.models: list[ModelEntry] = []
        self.job: Task | None = None
        self.job_kind = ""
        self.job_user = ""  # the user a personalisation was started for
        self.last_result: Any = None
        self.last_error = ""
        #: A model chosen while a session ran, used when it ends.
        self.pending_model = ""
        self._calibrations: list[str] = []  # the current user's
        self._added: dict[str, list[str]] = {}  # chosen by hand, per user (not in the library)

        self.card = QLabel("Reading the model…")
        self.card.setTextFormat(Qt.TextFormat.RichText)
        self.card.setWordWrap(True)
        self.card.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.montage = HeadMap(title="Channels the model was trained on")
        self.montage.setMinimumSize(220, 220)
        card_box = QGroupBox("Model in use")
        cl = QHBoxLayout(card_box)
        cl.addWidget(self.card, 2)
        cl.addWidget(self.montage, 1)

        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._show_selected)
        self.use_button = QPushButton("Use this model")
        self.use_button.clicked.connect(self.use_selected)
        models_box = QGroupBox("All your models")
        ml = QVBoxLayout(models_box)
        hint = QLabel("Newest first; switch back to any of them at any time. Each user keeps "
                      "their own; a personal model made for another user says whose it is.")
        hint.setWordWrap(True)
        ml.addWidget(hint)
        ml.addWidget(self.list)
        ml.addWidget(self.use_button)

        adapt = QGroupBox("Make it yours")
        al = QGridLayout(adapt)
        self.recording = QComboBox()
        self.recording.setMinimumWidth(200)
        self.recording.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.personalise_button = QPushButton("Personalise from this calibration")
        self.personalise_button.clicked.connect(lambda: self.personalise(None))
        self.retrain_button = QPushButton("Retrain from all my labelled recordings")
        self.retrain_button.clicked.connect(self.retrain)
        al.addWidget(QLabel("Calibration recording"), 0, 0)
        al.addWidget(self.recording, 0, 1)
        al.addWidget(browse, 0, 2)
        al.addWidget(self.personalise_button, 1, 0, 1, 2)
        al.addWidget(self.retrain_button, 2, 0, 1, 2)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress_text = QLabel("Record a calibration (Calibrate page) to personalise.")
        self.progress_text.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        al.addWidget(self.progress, 3, 0, 1, 2)
        al.addWidget(self.cancel_button, 3, 2)
        al.addWidget(self.progress_text, 4, 0, 1, 3)
        al.setRowStretch(5, 1)

        lay = QVBoxLayout(self)
        lay.addWidget(card_box, 3)
        row = QHBoxLayout()
        row.addWidget(models_box, 1)
        row.addWidget(adapt, 1)
        lay.addLayout(row, 2)
        window.session_ended.connect(self.session_ended)
        window.user_changed.connect(self.user_changed)

    # -- model list -------------------------------------------------------------------------
    @property
    def current_dir(self) -> str:
        """The model folder in use (the settings' choice, else the shipped default)."""
        return self.window.settings.model_dir or str(paths.default_model_dir())

    @property
    def busy(self) -> bool:
        """Whether a personalisation or retraining runs."""
        return self.job is not None

    def showEvent(self, event: Any) -> None:
        """Reload the models and calibration recordings whenever the page is shown."""
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the model folders and calibration recordings (worker threads)."""
        start_task(Task(list_models, on_done=self._models_loaded,
                        on_error=lambda m: self.card.setText(f"Cannot list models: {m}")))
        user = self.window.settings.user
        start_task(Task(calibration_recordings, self.window.library_path, user,
                        on_done=lambda recs: self._calibrations_loaded(recs, user),
                        on_error=lambda m: log.warning("calibration list: %s", m)))

    def _models_loaded(self, models: list[ModelEntry]) -> None:
        self.models = models
        self.list.blockSignals(True)
        self.list.clear()
        current = Path(self.current_dir).resolve()
        pending = Path(self.pending_model).resolve() if self.pending_model else None
        user = self.window.settings.user
        cur_row = -1
        for i, m in enumerate(models):
            mark = "● " if Path(m.path).resolve() == current else "   "
            waits = "  — used when the session ends" if Path(m.path).resolve() == pending else ""
            kind = ("shipped" if m.shipped else f"for {m.user}" if m.user and m.user != user
                    else "yours")
            item = QListWidgetItem(f"{mark}{m.name}  ({kind}, "
                                   f"{m.created[:10] or 'undated'}){waits}")
            item.setData(Qt.ItemDataRole.UserRole, m.path)
            self.list.addItem(item)
            if mark.strip():
                cur_row = i
        self.list.blockSignals(False)
        in_use = next((m for m in models if Path(m.path).resolve() == current), None)
        if in_use is None:
            self.card.setText(
                f"<b>No model found at {current}</b><br>The app uses the transparent "
                "engagement index (β/(α+θ)) until a model is installed or trained."
            )
            self.montage.set_channels([])
        else:
            self._show_card(in_use)
        if cur_row >= 0:
            self.list.setCurrentRow(cur_row)

    def _show_card(self, entry: ModelEntry) -> None:
        self.card.setText(card_html(entry, self.window.settings.user))
        self.montage.set_channels(list(entry.card.channels))
        self.montage.set_values(None)

    def _show_selected(self, row: int) -> None:
        if 0 <= row < len(self.models):
            self._show_card(self.models[row])

    def use_selected(self) -> None:
        """Switch to the selected model (the stream reconnects to load it)."""
        row = self.list.currentRow()
        if not 0 <= row < len(self.models):
            return
        self.use_model(self.models[row].path)

    def use_model(self, path: str, *, lead: str = "") -> None:
        """Use the model folder ``path`` from now on, for the current user.

        Loading a model reconnects the stream, which would end a running session: then the
        model is used when the session ends (:meth:`session_ended`), and the window says so
        (after ``lead``, e.g. "User ada: "). A model calibrated for another user says whose.
        """
        settings = self.window.settings
        name = self._named(path)
        current = self.window.stream.current
        if (model_setting(path) == settings.model_dir and settings.target == "model"
                and current is not None and current.estimator_name == "model"):
            self.pending_model = ""  # already the one the stream runs: nothing to restart
            self.window.update_settings(user_models={**settings.user_models,
                                                     settings.user: settings.model_dir})
            self.window.show_problem(f"{lead}{name} is the model in use.", "info")
            self.refresh()
            return
        if self.window.session_running:
            self.pending_model = path
            message = (f"{lead}{name} will be used when the running session ends "
                       "(switching models restarts the stream).")
            self.window.show_problem(message, "info")
            self.refresh()
            return
        self.pending_model = ""
        chosen = model_setting(path)
        self.window.update_settings(model_dir=chosen, target="model", user_models={
            **settings.user_models, settings.user: chosen})
        self.window.show_problem(f"{lead}{'n' if lead else 'N'}ow using the model {name}.",
                                 "info")
        if self.window.stream.current is not None and not self.window.closing:
            self.window.reconnect()
        self.refresh()

    def user_changed(self, old: str) -> None:
        """The user changed (Settings): remember the model the previous user chose last (one
        waiting for the session's end included), and switch to the new user's, their last
        chosen or else the shipped default, as :meth:`use_model` does."""
        settings = self.window.settings
        self._calibrations = []  # theirs: the new user's are read again below
        if self.job is None:
            self.last_result, self.last_error = None, ""
            self.progress_text.setText("")
        self._fill_recordings()
        last = model_setting(self.pending_model) if self.pending_model else settings.model_dir
        models = {**settings.user_models, old: last}
        self.window.update_settings(user_models=models)
        path = models.get(settings.user) or str(paths.default_model_dir())
        lead = f"User {settings.user}: "
        same = Path(path).resolve() == Path(self.current_dir).resolve()
        if settings.target != "model" or same:
            # already in use, or not loaded (another feedback target, which the next
            # connection with the model as the target loads): nothing restarts
            self.pending_model = ""
            self.window.update_settings(model_dir=model_setting(path))
            message = (f"now using the model {self._named(path)}." if same else
                       f"their model {self._named(path)} is used when the feedback target is "
                       "the model.")
            self.window.show_problem(lead + message, "info")
            self.refresh()
            return
        self.use_model(path, lead=lead)

    def _named(self, path: str) -> str:
        """The model folder's name, and whom it was calibrated for when not the current user."""
        owner = folder_user(path)
        return Path(path).name + (f" (calibrated for {owner})"
                                  if owner and owner != self.window.settings.user else "")

    def session_ended(self) -> None:
        """A session ended: switch to the model chosen while it ran, if any."""
        if self.pending_model and not self.window.session_running:
            self.use_model(self.pending_model)

    # -- calibration recordings -------------------------------------------------------------
    def _calibrations_loaded(self, recs: list[str], user: str) -> None:
        """The library's calibrations of ``user`` (ignored when the user changed meanwhile),
        after those added by hand for them (:meth:`add_calibration`)."""
        if user != self.window.settings.user:
            return
        added = self._added.get(user, [])
        self._calibrations = [*added, *(r for r in recs if r not in added)]
        self._fill_recordings()

    def add_calibration(self, recording: str) -> None:
        """Offer a new calibration recording to the current user (the newest first, and
        selected)."""
        added = self._added.setdefault(self.window.settings.user, [])
        if recording in added:
            added.remove(recording)
        added.insert(0, recording)
        if recording in self._calibrations:
            self._calibrations.remove(recording)
        self._calibrations.insert(0, recording)
        self._fill_recordings()
        self.recording.setCurrentIndex(0)

    def _fill_recordings(self) -> None:
        current = self.recording.currentData()
        self.recording.clear()
        for r in self._calibrations:
            self.recording.addItem(Path(r).name, r)
        if current in self._calibrations:
            self.recording.setCurrentIndex(self._calibrations.index(current))
        if self._calibrations and self.job is None and self.last_result is None \
                and not self.last_error:
            n = len(self._calibrations)
            self.progress_text.setText(
                f"{n} calibration recording{'s' if n > 1 else ''} ready: personalise the model "
                "with one, or retrain it on all of them.")

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Calibration recording folder",
                                                str(paths.data_dir() / "recordings"))
        if path:
            self.add_calibration(path)
            self.recording.setCurrentIndex(0)

    # -- background jobs --------------------------------------------------------------------
    def personalise(self, recording: str | None) -> Task | None:
        """Personalise the model in use with a calibration recording (worker thread)."""
        if recording:
            self.add_calibration(recording)
            self.recording.setCurrentIndex(0)
        rec = self.recording.currentData()
        if not rec:
            self.progress_text.setText("Choose a calibration recording first (or record one on "
                                       "the Calibrate page).")
            return None
        try:  # a personalised model in use: personalise its population model afresh
            base = population_model(self.current_dir)
        except NeurofbError as err:
            self.progress_text.setText(str(err))
            return None
        out = new_model_dir(base, "personal")
        self.job_user = self.window.settings.user  # whom this personalisation is for
        return self._start("personalise", Task(
            run_personalise, base, rec, str(out), self.window.settings.user,
            with_progress=True,
            on_done=self._job_done, on_error=self._job_failed, on_progress=self._on_progress,
        ), f"Personalising {Path(base).name} with {Path(rec).name}…")

    def retrain(self) -> Task | None:
        """Retrain from every labelled recording in the library (worker thread)."""
        recs = list(self._calibrations)
        if not recs:
            self.progress_text.setText("No labelled recordings yet: record a calibration first.")
            return None
        out = new_model_dir(self.current_dir, "retrained")
        return self._start("retrain", Task(
            run_retrain, self.current_dir, recs, str(out), with_progress=True,
            on_done=self._job_done, on_error=self._job_failed, on_progress=self._on_progress,
        ), f"Retraining from {len(recs)} labelled recording(s)…")

    def _start(self, kind: str, task: Task, message: str) -> Task | None:
        if self.job is not None:
            self.progress_text.setText("A job is already running: wait or cancel it.")
            return None
        self.job, self.job_kind = task, kind
        self.last_result, self.last_error = None, ""
        self.progress.setValue(0)
        self.progress_text.setText(message)
        self._set_busy(True)
        return start_task(task)

    def show_progress(self) -> None:
        """Scroll the page to the job's progress bar, Cancel and message (below the model
        card at 1280×720): now, and once more after the page is laid out (it may just have
        been switched to, from a calibration's summary)."""
        area = getattr(self.window, "page_areas", {}).get("model")
        if area is None:
            return

        def scroll() -> None:
            area.ensureWidgetVisible(self.progress_text)
            area.ensureWidgetVisible(self.cancel_button)

        scroll()
        QTimer.singleShot(0, scroll)

    def cancel(self) -> None:
        """Ask the running job to stop."""
        if self.job is not None:
            self.job.cancel()
            self.progress_text.setText("Cancelling…")

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(1000 * min(max(fraction, 0.0), 1.0)))
        if message:
            self.progress_text.setText(message)

    def _set_busy(self, busy: bool) -> None:
        for b in (self.personalise_button, self.retrain_button, self.use_button):
            b.setEnabled(not busy)
        self.show_progress()  # a job starts or ends: its progress and message in view
        self.cancel_button.setEnabled(busy)

    def _job_done(self, result: Any) -> None:
        job, self.job = self.job, None
        if job is not None and job.cancel_event.is_set():
            # cancelled after the worker's last check: the user's word wins until the model
            # is adopted, so the folder it wrote goes and the model in use stays
            out = result.get("out_dir", "")
            if out and Path(str(out)).is_dir():
                shutil.rmtree(str(out), ignore_errors=True)
            self._job_failed("cancelled: the model in use is unchanged")
            return
        self._set_busy(False)
        self.last_result = result
        self.progress.setValue(1000)
        out = result.get("out_dir", "")
        extra, keep_reason = self._verdict(result)
        left = result.get("left_out") or []
        if left:  # said beside the result, whichever way it went
            note = f" Left out: {'; '.join(left)}."
            extra, keep_reason = extra + note, keep_reason + note if keep_reason else ""
        self.progress_text.setText(f"Done: new model in {out}. {extra}".strip())
        if not (out and Path(str(out)).is_dir()):
            self.refresh()
        elif keep_reason:
            # not shown to do at least as well as the model in use: keep that one; the new one
            # is in the list for whoever wants it anyway
            message = f"{keep_reason} Pick the new model in the list to use it anyway."
            self.progress_text.setText(message)
            self.window.show_problem(message, "warning")
            self.refresh()
        elif self.job_kind == "personalise" and self.job_user != self.window.settings.user:
            # made for the user who started it, who is no longer the current one: it becomes
            # that user's model, and the current user's stays in use
            settings = self.window.settings
            self.window.update_settings(user_models={
                **settings.user_models, self.job_user: model_setting(str(out))})
            message = (f"The personalised model {Path(str(out)).name} was made for "
                       f"{self.job_user}: it is their model now; {self._staying()} for "
                       f"{settings.user}.")
            self.progress_text.setText(message)
            self.window.show_problem(message, "info")
            self.refresh()
        else:
            self.use_model(str(out))

    def _verdict(self, result: dict) -> tuple[str, str]:
        """What a finished job measured, and why its model is not switched to ('' to switch)."""
        from neurofb.training import retrain

        current = Path(self.current_dir).name
        if self.job_kind == "retrain":
            after, before = result.get("val_auc"), result.get("before_val_auc")
            dropped = (f" Retraining starts from the base network: the new model has no personal "
                       f"head (it is compared with {current}, personal head included)."
                       if result.get("personal_dropped") else "")
            if after is None or before is None:
                return ("It could not be validated: no labelled recording was held out from "
                        "its training." + dropped,
                        f"The retrained model could not be validated: with one labelled "
                        f"recording, none is held out from training to check it, so "
                        f"{self._staying()}. Record another calibration and retrain to check "
                        "it." + dropped)
            auc = f"AUC {before:.3f} → {after:.3f}"
            extra = f"{auc} on recordings held out from training.{dropped}"
            if retrain.improved(result):
                return extra, ""
            return extra, (f"The retrained model did worse than {current} on recordings held "
                           f"out from training ({auc}), so {self._staying()}.{dropped}")
        before, after = result.get("before"), result.get("after")
        before = before if isinstance(before, dict) else {}
        after = after if isinstance(after, dict) else {}
        keys = [k for k in ("auc", "balanced_accuracy") if k in before and k in after]
        label = {"auc": "AUC", "balanced_accuracy": "balanced accuracy"}
        figures = ", ".join(f"{label[k]} {before[k]:.3f} → {after[k]:.3f}" for k in keys)
        notes = "".join(f" Note: {note}." for note in result.get("notes", []))
        extra = figures + ("." if figures and notes else "") + notes
        source = result.get("source")
        if source:
            return extra, (f"This calibration came from {source}, not a headset: its EEG did "
                           "not follow the blocks, so the personalised model is not used "
                           f"({figures}) and {self._staying()}. Calibrate with a headset "
                           f"on.{notes}")
        problems = personalise_problems(before, after)
        if not problems:
            return extra, ""
        lead = (f"did worse than {current}" if any(p.endswith("fell") for p in problems)
                else "is no better than chance" if any("chance" in p for p in problems)
                else "could not be validated")
        detail = ": ".join(filter(None, (figures, ", ".join(problems))))
        return extra, (f"The personalised model {lead} on the last part of your calibration "
                       f"({detail}), so {self._staying()}. Were the blocks followed? Record a "
                       f"new calibration.{notes}")

    def _staying(self) -> str:
        """Which model stays in use when a new one is not switched to (the end of a sentence)."""
        current = Path(self.current_dir).name
        if self.pending_model:
            return (f"{current} stays in use until the running session ends, then "
                    f"{Path(self.pending_model).name}, chosen earlier")
        return f"{current} stays in use"

    def _job_failed(self, message: str) -> None:
        self.job = None
        self._set_busy(False)
        self.last_error = message
        self.progress.setValue(0)
        cancelled = message.startswith("cancelled")
        self.progress_text.setText("Cancelled: the model in use is unchanged." if cancelled
                                   else f"Failed: {message}")
        if not cancelled:
            self.window.show_problem(f"{self.job_kind.capitalize()} failed: {message}", "error")

    def shutdown(self) -> None:
        """Cancel a running job (the window is closing)."""
        self.cancel()
