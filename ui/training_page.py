"""The training page: pick an exercise, start, pause, end; the summary when it is over.

:class:`SessionPage` is shared with the calibration page: session controls, the timer, sounds,
the end-of-session summary. The exercise itself (rules, rewards, timing) runs in the engine
(:mod:`neurofb.practice.session`, :mod:`neurofb.practice.exercises`); the page draws the views it
steps out.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from neurofb_ui.exercise_views import ClarityCanvas, GaugeCanvas, RocketCanvas
from neurofb_ui.live_view import FPS, FocusMeter
from neurofb_ui.rest_view import RestScreen
from neurofb_ui.session_controller import SessionController, SessionResult
from neurofb_ui.session_summary import SessionTrace, SummaryView, fmt_duration
from neurofb_ui.sound import SoundPlayer, sound_note

#: Start pressed with no source connected (the banner goes once a session starts).
NEED_SOURCE = "Connect a source first (left panel), then press Start."
#: Start pressed while another page runs a session.
OTHER_SESSION = "Another session is running: end it first."
#: Why Pause is greyed out during the rest baseline.
REST_NO_PAUSE = ("The rest cannot be paused: it is the signal of the next seconds. "
                 "Skip it (cold mode) or end the session.")


def load_tones(player: SoundPlayer) -> None:
    """Register the engine's tones (:data:`neurofb.practice.tones.TONES`) with the player."""
    from neurofb.practice.tones import TONES, wav_bytes

    for name, make in TONES.items():
        player.load(name, wav_bytes(make()))


class SessionPage(QWidget):
    """Common machinery of pages that run a :class:`neurofb.practice.session.PracticeSession`."""

    def __init__(self, window: Any, sound: SoundPlayer) -> None:
        super().__init__()
        self.window = window
        self.sound = sound
        self.controller = SessionController(self)
        self.controller.step.connect(self.on_step)
        self.controller.finished.connect(self.on_finished)
        self.controller.problem.connect(lambda m: self.window.show_problem(m, "error"))
        self.last_step: Any = None
        self.last_result: SessionResult | None = None
        self.steps = 0
        self._trace = SessionTrace()
        #: The banner shown about the running session, cleared when the session ends.
        self.session_banner = ""

        self.start_button = QPushButton("Start")
        self.start_button.setStyleSheet("font-weight: bold; padding: 6px 18px;")
        self.pause_button = QPushButton("Pause")
        self.end_button = QPushButton("End session")
        self.start_button.clicked.connect(self.start_session)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.end_button.clicked.connect(lambda: self.end_activity())
        self.clock = QLabel("–")
        self.clock.setStyleSheet("font-size: 20px; font-weight: bold;")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.summary = SummaryView()
        self.summary.again.connect(self.train_again)
        self.summary.history.connect(lambda: self.window.show_page("history"))
        self.stack = QStackedWidget()
        self.frame_timer = QTimer(self)
        self.frame_timer.setInterval(int(1000 / FPS))
        self.frame_timer.timeout.connect(self.tick)
        self.frame_timer.start()
        self._set_running(False)
        window.user_changed.connect(self._user_changed)

    def _user_changed(self, _old: str) -> None:
        """Another user: the last user's summary (and its offer to personalise) goes; a
        running session goes on as its user's."""
        if not self.running:
            self.train_again()
            self.status.setText("")

    # -- hooks for subclasses ---------------------------------------------------------------
    def make_exercise(self) -> Any:
        """The engine exercise to run (a fresh :class:`neurofb.practice.exercises.Exercise`)."""
        raise NotImplementedError

    def draw_step(self, step: Any) -> None:
        """Show one session step (the exercise view)."""
        raise NotImplementedError

    def canvas(self) -> Any:
        """The widget animated by :meth:`tick` (or None)."""
        return None

    # -- session control ------------------------------------------------------------------
    def controls(self) -> QHBoxLayout:
        """A row with Start, Pause, End, the clock and the status line."""
        row = QHBoxLayout()
        for w in (self.start_button, self.pause_button, self.end_button):
            row.addWidget(w)
        row.addSpacing(16)
        row.addWidget(self.clock)
        row.addSpacing(16)
        row.addWidget(self.status, 1)
        return row

    @property
    def running(self) -> bool:
        """Whether this page runs a session."""
        return self.controller.active

    def start_session(self) -> bool:
        """Start a session on the connected stream; return whether it started."""
        opened = self.window.stream.current
        if opened is None:
            self.window.show_problem(NEED_SOURCE, "warning")
            return False
        if any(getattr(p, "running", False) for p in self.window.pages.values() if p is not self):
            self.window.show_problem(OTHER_SESSION, "warning")
            return False
        for said in (NEED_SOURCE, OTHER_SESSION):  # what they asked for is done
            self.window.clear_problem(said)
        s = self.window.settings
        rest_s = (s.rest_baseline_s if self.asks_for_rest and s.rest_baseline
                  and opened.estimator_name == "model" else 0.0)
        try:
            exercise = self.make_exercise()
            self.controller.start(opened, exercise, reward_rate=s.reward_rate, user=s.user,
                                  record=s.record, rest_s=rest_s)
        except (ValueError, RuntimeError) as err:
            self.window.show_problem(f"Could not start: {err}", "error")
            return False
        self.last_step = None
        self.steps = 0
        self._trace = SessionTrace()
        self.clock.setText("–")  # not the last session's "done" until the first step
        self.show_exercise()
        c = self.canvas()
        if c is not None:
            c.reset()
        self._set_running(True)
        rec = self.controller.recorder
        self.session_status = f"Recording to {rec.path}" if rec else "Not recording"
        self.status.setText(self.session_status)
        return True

    def toggle_pause(self) -> None:
        """Pause or resume the session."""
        if not self.running:
            return
        if self.controller.paused:
            self.controller.resume()
            self.pause_button.setText("Pause")
        else:
            self.controller.pause()
            self.pause_button.setText("Resume")

    def end_activity(self, *, wait: bool = False) -> None:
        """End the session (the summary follows); ``wait`` finishes saving before returning."""
        if self.running:
            self.controller.end(wait=wait)

    def shutdown(self) -> None:
        """Stop the animation (the window is closing)."""
        self.frame_timer.stop()

    def show_exercise(self) -> None:
        """Show the exercise (not the summary)."""
        self.stack.setCurrentIndex(0)

    def train_again(self) -> None:
        """Back from the summary to the exercise, cleared of the last session (clock,
        counters, the canvas's last state) until the next one starts."""
        self.show_exercise()
        self.clock.setText("–")
        reset = getattr(self.canvas(), "reset", None)
        if reset is not None:
            reset()
        self.clear_counters()

    def clear_counters(self, reason: str = "waiting for data") -> None:
        """Empty what the page shows of a session (pages with counters clear them)."""

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.end_button.setEnabled(running)
        self.pause_button.setText("Pause")

    # -- engine events (queued signals) ---------------------------------------------------
    def on_step(self, step: Any) -> None:
        """A session step: draw it, play its sounds, update the clock."""
        if not self.running:
            return
        self.last_step = step
        self.steps += 1
        view = step.view
        self._trace.add(step.feedback)
        self.draw_step(step)
        if getattr(view, "milestone", False):
            self.sound.play("streak")
        elif getattr(view, "reward", False):
            self.sound.play("reward")
        left = view.remaining_s
        self.clock.setText(fmt_duration(left) + " left" if left is not None
                           else fmt_duration(view.elapsed_s))
        threshold = getattr(view, "threshold", None)
        self.window.live.set_threshold(None if not self.uses_threshold else threshold)

    uses_threshold = True
    #: The status line after a session that was not kept.
    not_kept_note = ("The session ended before the exercise began: nothing was recorded or "
                     "added to your history.")
    #: Whether sessions of this page start with the rest baseline (baseline mode) when the
    #: settings ask for it (the calibration exercise has its own protocol).
    asks_for_rest = False

    def on_finished(self, result: SessionResult) -> None:
        """The session ended: show its summary and refresh the history (a session ended before
        any exercise time was not kept: the status line says so). A banner about the session
        is cleared."""
        self.last_result = result
        self._set_running(False)
        self.window.live.set_threshold(None)
        self.window.clear_problem(self.session_banner)
        self.session_banner = ""
        if not result.kept:
            self.clock.setText("–")
            self.status.setText(self.not_kept_note)
            return
        self.sound.play("done")
        self.summary.show_result(result, self._trace)
        self.stack.setCurrentWidget(self.summary)
        self.clock.setText("done")
        self.status.setText("")
        hist = self.window.pages.get("history")
        if hist is not None:
            hist.refresh()

    def tick(self) -> None:
        """Animate the canvas (~30 fps, only while visible)."""
        c = self.canvas()
        if c is not None and self.isVisible() and self.stack.currentIndex() == 0:
            c.tick()


class TrainingPage(SessionPage):
    """Focus gauge, rocket and clarity, with reward sounds, points, timer and pause.

    With the rest baseline on (settings), a session starts with the guided rest screen
    (:class:`~neurofb_ui.rest_view.RestScreen`) until the engine reports the baseline taken,
    failed or skipped; then the exercise.
    """

    asks_for_rest = True

    def __init__(self, window: Any, sound: SoundPlayer) -> None:
        super().__init__(window, sound)
        from neurofb.practice.exercises import EXERCISES

        self.canvases = {"gauge": GaugeCanvas(), "rocket": RocketCanvas(),
                         "clarity": ClarityCanvas()}
        self.choice = QButtonGroup(self)
        pick = QHBoxLayout()
        self.pick_buttons: dict[str, QPushButton] = {}
        for name in self.canvases:
            info = EXERCISES[name]
            b = QPushButton(info.title)
            b.setToolTip(info.description)
            b.setCheckable(True)
            b.setMinimumHeight(40)
            b.setStyleSheet("QPushButton { text-align: left; padding: 6px 10px; }"
                            "QPushButton:checked { background: #c8e6c9; "
                            "border: 2px solid #2e7d32; }")
            self.choice.addButton(b)
            self.pick_buttons[name] = b
            b.clicked.connect(lambda _c=False, n=name: self.choose(n))
            pick.addWidget(b)
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.baseline_note = ""
        self.session_status = ""  # the status line of a session when nothing is to be said
        #: The exercise chosen (in the settings) while a session ran, for the next session.
        self.next_exercise = ""
        self.canvas_stack = QStackedWidget()
        for c in self.canvases.values():
            self.canvas_stack.addWidget(c)
        self.rest_screen = RestScreen()
        self.rest_screen.skip.connect(self.skip_rest)
        self.canvas_stack.addWidget(self.rest_screen)

        self.meter = FocusMeter()
        self.meter.setMaximumWidth(120)
        side = QGroupBox("This session")
        sl = QVBoxLayout(side)
        sl.addWidget(self.meter, 1)
        self.points = QLabel("0 points")
        self.points.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.streak = QLabel("streak 0")
        self.on_target = QLabel("on target –")
        for w in (self.points, self.streak, self.on_target):
            sl.addWidget(w)
        self.mute = QCheckBox("Mute")
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.sound_note = sound_note(sound, self.volume, self.mute)
        sl.addWidget(QLabel("Sound"))
        sl.addWidget(self.sound_note)
        sl.addWidget(self.volume)
        sl.addWidget(self.mute)
        self.mute.toggled.connect(self._sound_changed)
        self.volume.valueChanged.connect(self._sound_changed)

        body = QWidget()
        bl = QHBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.canvas_stack, 1)
        bl.addWidget(side)
        self.stack.addWidget(body)
        self.stack.addWidget(self.summary)

        lay = QVBoxLayout(self)
        lay.addLayout(pick)
        lay.addWidget(self.about)
        lay.addLayout(self.controls())
        lay.addWidget(self.stack, 1)
        self.apply_settings(window.settings)

    @property
    def exercise_name(self) -> str:
        """The exercise chosen."""
        for name, b in self.pick_buttons.items():
            if b.isChecked():
                return name
        return "gauge"

    def choose(self, name: str) -> None:
        """Choose an exercise (remembered in the settings)."""
        if name not in self.canvases:
            raise ValueError(f"unknown exercise {name!r}; choose one of {list(self.canvases)}")
        self.pick_buttons[name].setChecked(True)
        self.canvas_stack.setCurrentWidget(self.canvases[name])
        self._describe(name)
        self.show_exercise()
        if self.window.settings.exercise != name:
            self.window.update_settings(exercise=name)

    def apply_settings(self, settings: Any) -> None:
        """Follow the settings (exercise, reward rate, volume, mute).

        Another exercise chosen while a session runs is for the next session: the running one
        goes on as it is (its canvas stays), and the window says so. A new reward rate applies
        at once, to the running session too.
        """
        name = settings.exercise if settings.exercise in self.canvases else "gauge"
        running = self.controller.session.exercise.name if self.running else ""
        if not running:
            self._show_choice(name)
        elif name == running:  # chosen back: nothing waits for the next session
            self.window.clear_problem(self.session_banner)
        elif name != self.next_exercise:
            from neurofb.practice.exercises import EXERCISES

            self.session_banner = (f"{EXERCISES[name].title} starts with your next session; "
                                   f"this {EXERCISES[running].title} session goes on.")
            self.window.show_problem(self.session_banner, "info")
        self.next_exercise = name if running and name != running else ""
        self.controller.set_reward_rate(settings.reward_rate)
        for w in (self.mute, self.volume):
            w.blockSignals(True)
        self.mute.setChecked(settings.muted)
        self.volume.setValue(round(settings.volume * 100))
        for w in (self.mute, self.volume):
            w.blockSignals(False)
        self.sound.set_volume(settings.volume)
        self.sound.set_muted(settings.muted)

    def _show_choice(self, name: str) -> None:
        self.pick_buttons[name].setChecked(True)
        self.canvas_stack.setCurrentWidget(self.canvases[name])
        self._describe(name)

    def _describe(self, name: str) -> None:
        from neurofb.practice.exercises import EXERCISES

        self.about.setText(f"<b>{EXERCISES[name].title}</b> — {EXERCISES[name].description}")

    def _sound_changed(self) -> None:
        self.window.update_settings(volume=self.volume.value() / 100,
                                    muted=self.mute.isChecked())

    def make_exercise(self) -> Any:
        """A fresh exercise of the chosen kind, as long as the settings say."""
        from neurofb.practice.exercises import make_exercise

        minutes = self.window.settings.session_min
        return make_exercise(self.exercise_name, duration_s=minutes * 60 if minutes > 0 else None)

    def start_session(self) -> bool:
        """Start the chosen exercise; the picker is locked while it runs."""
        self.baseline_note = ""
        ok = super().start_session()
        if ok:
            for b in self.pick_buttons.values():
                b.setEnabled(False)
            self.clear_counters()
            self._pausable(not self.controller.resting)
        return ok

    def clear_counters(self, reason: str = "waiting for data") -> None:
        """Empty the side panel: no focus or threshold on the meter (``reason`` under it), no
        points, streak or time on target (a new session starts from nothing)."""
        self.meter.set_state(None, reason=reason)
        self.points.setText("0 points")
        self.streak.setText("streak 0")
        self.on_target.setText("on target –")

    def on_finished(self, result: SessionResult) -> None:
        """Unlock the picker and show the summary."""
        for b in self.pick_buttons.values():
            b.setEnabled(True)
        self.next_exercise = ""
        self._show_choice(self.window.settings.exercise
                          if self.window.settings.exercise in self.canvases else "gauge")
        super().on_finished(result)

    def skip_rest(self) -> None:
        """Skip the rest baseline: the exercise starts in cold mode, and the status line says
        so for the rest of the session."""
        view = self.controller.skip_rest()
        if view is not None and view.done:
            self.rest_screen.set_view(view)
            self.baseline_note = view.message
            self.status.setText(view.message)

    def _pausable(self, pausable: bool) -> None:
        """Pause is offered only once the exercise runs: the rest baseline is the stream's
        next seconds and cannot wait (Skip or End session instead)."""
        self.pause_button.setEnabled(self.running and pausable)
        self.pause_button.setToolTip("" if pausable else REST_NO_PAUSE)

    def canvas(self) -> Any:
        """The canvas of the chosen exercise (None while the rest screen shows)."""
        current = self.canvas_stack.currentWidget()
        return None if current is self.rest_screen else current

    def draw_step(self, step: Any) -> None:
        """Hand the exercise view to its canvas (the rest view to the rest screen); update
        meter and counters."""
        view, fb = step.view, step.feedback
        self._pausable(view.name != self.rest_screen_name or view.done)
        if view.name == self.rest_screen_name:
            # no feedback during the rest: the meter shows no focus and no threshold
            self.meter.set_state(None, reason="resting")
            self.rest_screen.set_view(view)
            self.canvas_stack.setCurrentWidget(self.rest_screen)
            self.status.setText(view.message)
            if view.done:
                self.baseline_note = view.message
            return
        if self.canvas_stack.currentWidget() is self.rest_screen:
            self.canvas_stack.setCurrentWidget(self.canvases[view.name])
            self.canvases[view.name].reset()
        self.canvases[view.name].set_view(view)
        self.meter.set_state(fb.focus, threshold=fb.threshold, reason=fb.reason,
                             rewarding=fb.reward)
        self.points.setText(f"{fb.points} points")
        self.streak.setText(f"streak {fb.streak} (best {fb.longest_streak})")
        self.on_target.setText(f"on target {fmt_duration(fb.time_on_target_s)}")
        # a passing message (a bad signal, the pause) gives way to the session's standing line
        standing = " ".join(line for line in (self.baseline_note, fb.limit) if line)
        self.status.setText(view.message or standing or self.session_status)

    @property
    def rest_screen_name(self) -> str:
        """The engine's name of the rest view."""
        from neurofb.practice.rest import REST_LABEL

        return REST_LABEL
