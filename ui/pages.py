"""The pages between the live view and the settings, in navigation order."""

from __future__ import annotations

from typing import Any


def build_pages(window: Any) -> list[tuple[str, str, Any]]:
    """Return ``(key, title, widget)`` for each page of ``window``."""
    from neurofb_ui.calibration_view import CalibrationPage
    from neurofb_ui.history_view import HistoryPage
    from neurofb_ui.model_view import ModelPage
    from neurofb_ui.training_page import TrainingPage

    return [
        ("train", "Train", TrainingPage(window, window.sound)),
        ("calibrate", "Calibrate", CalibrationPage(window, window.sound)),
        ("history", "History", HistoryPage(window)),
        ("model", "Focus model", ModelPage(window)),
    ]
