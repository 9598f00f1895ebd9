"""The pages between the live view and the settings, in navigation order."""

from __future__ import annotations

from typing import Any


def build_pages(window: Any) -> list[tuple[str, str, Any]]:
    """Return ``(key, title, widget)`` for each page of ``window``."""
    return []
