"""The main window: source picker and navigation on the left, one page at a time on the right.

Problems (a lost board, a model that failed to load, a full disk) appear in a banner above the
page and in the status bar; the app keeps running.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any, ClassVar

from PyQt6.QtCore import Qt, QThreadPool, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from neurofb.stream.assemble import OpenedStream
from neurofb_ui.live_view import LiveView
from neurofb_ui.qt_bridge import Task, start_task, wait_for_tasks
from neurofb_ui.settings import AppSettings, SettingsPage
from neurofb_ui.sound import SoundPlayer
from neurofb_ui.source_panel import SourcePanel, SourceSpec
from neurofb_ui.stream import ConnectRequest, LiveStream, connect_request

log = logging.getLogger(__name__)


class Banner(QFrame):
    """A coloured strip above the page with a message and a close button."""

    STYLES: ClassVar[dict[str, str]] = {
        "error": "background:#ffebee; border:1px solid #e57373; color:#b71c1c;",
        "warning": "background:#fff8e1; border:1px solid #ffca28; color:#6d4c00;",
        "info": "background:#e3f2fd; border:1px solid #64b5f6; color:#0d47a1;",
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 2, 4, 2)  # slim: the pages keep their room at 1280×720
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("✕")
        close.setFlat(True)
        close.setFixedSize(24, 20)
        close.clicked.connect(self.hide)
        lay.addWidget(self.label, 1)
        lay.addWidget(close)
        self.level = ""
        self.message = ""
        self.hide()

    #: Longest message shown whole (about two lines at 1280 px): a longer one (a list of 32
    #: channel names) is cut with an ellipsis, the whole of it in the tooltip, so the banner
    #: never pushes the window past a 720-pixel screen.
    MAX_CHARS = 240

    @property
    def text(self) -> str:
        """The message ('' when hidden), whole even when the strip shows it cut."""
        return self.message if self.isVisibleTo(self.parentWidget()) else ""

    def show_message(self, message: str, level: str = "error") -> None:
        """Show ``message`` (``level``: error, warning, info); an empty message hides it."""
        if not message:
            self.hide()
            return
        self.level = level
        self.message = message
        self.setStyleSheet(f"QFrame {{{self.STYLES[level]} border-radius:4px;}}")
        cut = len(message) > self.MAX_CHARS
        self.label.setText(message[: self.MAX_CHARS - 1].rstrip() + "…" if cut else message)
        self.label.setToolTip(message if cut else "")
        self.show()


class MainWindow(QMainWindow):
    """The neurofb window. ``pages`` maps a page name to its widget."""

    stream_opened = pyqtSignal(object)
    #: Pages that scroll (the others fit a 1280×720 screen and resize their views instead).
    SCROLLED = ("model", "settings")
    #: A training or calibration session ended (its summary is shown).
    session_ended = pyqtSignal()
    #: The user changed (Settings), with the previous user's name.
    user_changed = pyqtSignal(str)

    def __init__(self, settings: AppSettings, *, data_dir: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("neurofb — attention training")
        self.resize(1360, 860)
        self.settings = settings
        self.data_dir = data_dir
        #: The window is closing (sessions end, nothing reconnects).
        self.closing = False
        #: Session database; None = the default in the user data dir.
        self.library_path: str | None = None
        # Workers: connecting to a board, training and reading the library may overlap; a
        # 2-core machine's default of 2 pool threads would queue a disconnect behind a retrain.
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(pool.maxThreadCount(), 8))
        self.stream = LiveStream(self)
        self._pending: SourceSpec | None = None
        #: The source last connected to (what :meth:`reconnect` connects to again).
        self.current_spec: SourceSpec | None = None
        self.sound = SoundPlayer(volume=settings.volume, muted=settings.muted, parent=self)
        try:
            from neurofb_ui.training_page import load_tones

            load_tones(self.sound)
        except (OSError, ValueError) as err:
            log.warning("reward tones unavailable: %s", err)

        self.source = SourcePanel(settings)
        self.nav = QListWidget()
        self.nav.setMaximumWidth(260)
        self.nav.setStyleSheet(
            "QListWidget { font-size: 15px; border: none; background: transparent; }"
            "QListWidget::item { padding: 5px 8px; border-radius: 4px; }"
            "QListWidget::item:selected { background: #1e88e5; color: white; }"
        )
        self.pages_stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}
        self.page_areas: dict[str, QScrollArea] = {}
        self.banner = Banner()

        self.live = LiveView()
        self.settings_page = SettingsPage(settings, self.sound)
        self._add_page("live", "Live signal", self.live)
        self._build_pages()
        self._add_page("settings", "Settings", self.settings_page)
        # every page's name stays in view, even beside a board's connection fields
        self.nav.setMinimumHeight(sum(self.nav.sizeHintForRow(i) for i in range(self.nav.count()))
                                  + 2 * self.nav.frameWidth() + 4)

        side = QWidget()
        side.setMaximumWidth(280)
        sl = QVBoxLayout(side)
        sl.setContentsMargins(6, 6, 6, 6)
        title = QLabel("<h2 style='margin:0'>neurofb</h2><small>attention training</small>")
        sl.addWidget(title)
        sl.addWidget(self.source)
        sl.addWidget(self.nav, 1)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 6, 6, 0)
        rl.addWidget(self.banner)
        rl.addWidget(self.pages_stack, 1)

        central = QWidget()
        cl = QHBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(side)
        cl.addWidget(right, 1)
        self.setCentralWidget(central)
        self.nav.currentRowChanged.connect(self.pages_stack.setCurrentIndex)
        self.nav.setCurrentRow(0)

        self.source.connect_requested.connect(self.connect_source)
        self.source.disconnect_requested.connect(self.disconnect_source)
        self.stream.state.connect(self._on_state)
        self.stream.problem.connect(self.show_problem)
        self.stream.opened.connect(self._on_opened)
        self.stream.closed.connect(self.live.clear)
        self.stream.closed.connect(self._connect_pending)
        self.stream.source_stopped.connect(self._source_stopped)
        self.stream.bridge.chunk.connect(self.live.on_chunk)
        self.stream.bridge.update.connect(self.live.on_update)
        self.settings_page.changed.connect(self._settings_changed)
        self.statusBar().showMessage("Pick a source and press Connect")
        self.start_later(self.recover_recordings)

    # -- pages -----------------------------------------------------------------------------
    def _add_page(self, key: str, title: str, widget: QWidget) -> None:
        """Add a page; a page of forms and cards (:data:`SCROLLED`) comes in a scroll area, so
        on a small screen (1280×720) it scrolls rather than being cut or growing the window."""
        self.pages[key] = widget
        if key in self.SCROLLED:
            area = QScrollArea()
            area.setWidgetResizable(True)
            area.setFrameShape(QFrame.Shape.NoFrame)
            area.setWidget(widget)
            self.page_areas[key] = area
            widget = area
        self.pages_stack.addWidget(widget)
        self.nav.addItem(title)

    def _build_pages(self) -> None:
        """Add the training, calibration, history and model pages (see :mod:`pages`)."""
        from neurofb_ui.pages import build_pages

        for key, title, widget in build_pages(self):
            self._add_page(key, title, widget)
            controller = getattr(widget, "controller", None)
            if controller is not None:
                controller.finished.connect(self.session_ended)

    def show_page(self, key: str) -> None:
        """Switch to a page by name."""
        self.nav.setCurrentRow(list(self.pages).index(key))

    @property
    def session_running(self) -> bool:
        """Whether a page runs a session (training or calibration)."""
        return any(getattr(p, "running", False) for p in self.pages.values())

    @property
    def current_page(self) -> str:
        """Name of the page shown."""
        return list(self.pages)[self.pages_stack.currentIndex()]

    # -- stream ----------------------------------------------------------------------------
    def connect_request(self, spec: SourceSpec) -> ConnectRequest:
        """What connecting to ``spec`` asks of the engine, with this window's settings."""
        return connect_request(spec, self.settings)

    def connect_source(self, spec: SourceSpec | None = None, *, opening: Any = None) -> None:
        """Connect to ``spec`` (default: what the picker shows) and remember the choice.

        ``opening``: the future of :func:`neurofb_ui.stream.open_early` for this ``spec``.
        """
        spec = spec or self.source.spec()
        self.source.select(spec)
        self._remember_source(spec)
        self.current_spec = spec
        self.stream.connect_source(self.connect_request(spec), opening=opening)

    def disconnect_source(self) -> None:
        """Stop the stream (ending any session first, so its recording closes cleanly)."""
        self.end_activities()
        self.stream.disconnect_source()

    def reconnect(self, spec: SourceSpec | None = None) -> None:
        """Connect to ``spec``, disconnecting first if needed.

        Without ``spec`` (a new model or target to load), connect again to the source connected
        to, the same way, without saving it as the source: a replay stays a replay, going on
        from where it is.
        """
        spec = spec or self._same_source()
        if self.stream.current is None and self.stream.current_state != "disconnecting":
            self.connect_source(spec)
            return
        self._pending = spec
        self.disconnect_source()

    def _same_source(self) -> SourceSpec:
        """The source connected to, to connect again (not remembered); else the picker's."""
        spec = self.current_spec
        if spec is None:
            return self.source.spec()
        current = self.stream.current
        position = getattr(current.source, "position_s", None) if current else None
        start_s = spec.start_s if position is None else float(position)
        return dataclasses.replace(spec, start_s=start_s, remember=False)

    def replay(self, recording: str, start_s: float = 0.0) -> None:
        """Stream a recording through the live pipeline (from ``start_s``); show the live page."""
        self.reconnect(SourceSpec(kind="file", file=str(recording), start_s=float(start_s),
                                  remember=False))
        self.show_page("live")

    def _source_stopped(self, message: str) -> None:
        """The source stopped by itself: end the session on it (kept and summarised as if
        ended by hand; a rest baseline not finished is not kept) and say what happened."""
        if self.closing:
            return
        running = self.session_running
        if running:
            self.end_activities()
        ended = " The session on it was ended." if running else ""
        self.show_problem(f"The source stopped: {message}.{ended} Press Connect to stream "
                          "again.", "warning")

    def _connect_pending(self) -> None:
        spec, self._pending = self._pending, None
        if spec is not None:
            self.connect_source(spec)

    def end_activities(self, *, wait: bool = False) -> None:
        """End whatever session a page runs (exercise, calibration); ``wait`` for saving."""
        for page in self.pages.values():
            end = getattr(page, "end_activity", None)
            if end is not None:
                end(wait=wait)

    def recover_recordings(self) -> None:
        """Finalise recordings a crash left open, and index them (worker thread)."""
        from neurofb.library.recovery import recover_interrupted

        recover = functools.partial(recover_interrupted, library_path=self.library_path)
        start_task(Task(recover, on_done=self._recovered,
                        on_error=lambda m: self.show_problem(
                            f"Could not recover interrupted recordings: {m}", "warning")))

    def _recovered(self, recovery: Any) -> None:
        for problem in recovery.problems:
            log.warning("%s", problem)
        folders = recovery.finalised
        if folders:
            names = ", ".join(p.name for p in folders[:3]) + ("…" if len(folders) > 3 else "")
            self.show_problem(f"Recovered {len(folders)} interrupted recording(s): {names}",
                              "info")
            hist = self.pages.get("history")
            if hist is not None:
                hist.refresh()

    def _remember_source(self, spec: SourceSpec) -> None:
        """Save the source chosen, to reopen it next time.

        Only a board choice changes the saved board and its connection fields (and only a
        file the saved file): the demo or the synthetic board for a while keeps the headset's
        configuration. A replay from History is not remembered at all.
        """
        if not spec.remember:
            return
        changes: dict[str, Any] = {"source": spec.kind}
        if spec.kind == "lsl":
            changes.update(lsl_stream=spec.fields.get("stream", ""),
                           lsl_montage=spec.fields.get("montage", ""),
                           lsl_unit=spec.fields.get("unit", "auto"))
        elif spec.kind == "board":
            changes.update(board=spec.board, board_fields=dict(spec.fields))
        elif spec.kind == "file":
            changes.update(file=spec.file)
        self._settings_changed(self.settings.with_(**changes), save=True)

    def _on_state(self, state: str, message: str) -> None:
        self.source.set_state(state, message)
        text = f"{state}: {message}" if message else state
        self.statusBar().showMessage(text)
        if state == "connected" and self.banner.level == "error" and "connect" in (
                self.banner.message.lower()):
            self.banner.hide()
        if state == "connected":
            from neurofb_ui.training_page import NEED_SOURCE

            self.clear_problem(NEED_SOURCE)  # a source is there now

    def _on_opened(self, opened: OpenedStream) -> None:
        if self._pending is not None:  # asked for another source while this one connected
            self.stream.disconnect_source()
            return
        self.live.target = opened.estimator_name
        self.live.on_info(opened.info)
        self.stream_opened.emit(opened)

    def show_problem(self, message: str, level: str = "error") -> None:
        """Show a problem in the banner and the status bar ('' clears the banner)."""
        self.banner.show_message(message, level)
        if message:
            self.statusBar().showMessage(message, 15000)
            log.warning("%s", message)

    def clear_problem(self, message: str) -> None:
        """Hide the banner if it still shows ``message`` (what that message said is over)."""
        if message and self.banner.text == message:
            self.banner.hide()

    def _settings_changed(self, settings: AppSettings, *, save: bool = False) -> None:
        old_user, self.settings = self.settings.user, settings
        if save:
            try:
                settings.save()
            except OSError as err:
                self.show_problem(f"Could not save settings: {err}", "warning")
        self.settings_page.set_settings(settings)
        for page in self.pages.values():
            apply = getattr(page, "apply_settings", None)
            if apply is not None:
                apply(settings)
        if settings.user != old_user:
            self.user_changed.emit(old_user)

    def update_settings(self, **changes: Any) -> None:
        """Change and save settings from a page (the exercise chosen, the model in use)."""
        self._settings_changed(self.settings.with_(**changes), save=True)

    # -- closing ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """End the session (closing its recording cleanly), stop the stream, then close."""
        self.closing = True
        self.live.timer.stop()
        self._pending = None
        self.end_activities(wait=True)
        self.stream.shutdown()
        for page in self.pages.values():
            shutdown = getattr(page, "shutdown", None)
            if shutdown is not None:
                shutdown()
        wait_for_tasks(10.0)
        event.accept()

    def start_later(self, fn: Any, delay_ms: int = 0) -> None:
        """Run ``fn`` on the GUI thread once the event loop runs."""
        QTimer.singleShot(delay_ms, fn)
