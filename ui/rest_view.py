"""The guided rest screen of baseline mode: what to do, time left, and how it went.

Draws the engine's :class:`neurofb.practice.rest.RestView` (it decides nothing): a large
instruction, the seconds left, a progress bar, the clean signal collected so far, and at the
end whether the baseline was taken. The Skip button asks the session to run in cold mode.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

#: Colours of the end states.
_STATE_STYLE = {"taken": "color:#2e7d32;", "failed": "color:#b71c1c;",
                "skipped": "color:#6d4c00;", "unavailable": "color:#6d4c00;"}


class RestScreen(QWidget):
    """The rest baseline, drawn from :class:`~neurofb.practice.rest.RestView` steps.

    Signals
    -------
    skip()
        The user pressed "Skip (cold mode)".
    """

    skip = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Rest baseline")
        self.title.setStyleSheet("font-size: 26px; font-weight: bold;")
        self.instruction = QLabel("Sit still, eyes open, and relax.")
        self.instruction.setStyleSheet("font-size: 20px;")
        self.instruction.setWordWrap(True)
        self.countdown = QLabel("")  # the rest's own length, from its first update
        self.countdown.setStyleSheet("font-size: 44px; font-weight: bold;")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.detail = QLabel("The focus model learns your resting signal for this session; "
                             "the exercise starts right after.")
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet("color: #555;")
        self.skip_button = QPushButton("Skip (cold mode)")
        self.skip_button.setToolTip("Start the exercise now, without a baseline: the population "
                                    "model as it is")
        self.skip_button.clicked.connect(self.skip.emit)
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        for w in (self.title, self.instruction, self.countdown, self.bar, self.detail,
                  self.skip_button):
            if w in (self.instruction, self.detail):
                # wrapped text takes the whole width (centred), so Qt gives it the height of
                # its lines; a centred widget would be squeezed and its lines cut
                w.setAlignment(Qt.AlignmentFlag.AlignCenter)
                lay.addWidget(w)
            else:
                lay.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
        self.bar.setMinimumWidth(420)
        lay.addStretch(1)
        self.state = ""

    def set_view(self, view: Any) -> None:
        """Show one rest step."""
        self.state = view.state
        self.countdown.setText(f"{view.remaining_s:.0f} s" if view.state == "resting" else "")
        self.bar.setValue(round(1000 * view.progress))
        self.instruction.setText(view.message)
        self.instruction.setStyleSheet("font-size: 20px;" + _STATE_STYLE.get(view.state, ""))
        self.detail.setText(f"clean signal so far: {view.clean_s:.0f} s" if view.state ==
                            "resting" else "")
        self.skip_button.setEnabled(view.state == "resting")
