"""Helpers of the LSL tests: bounded waits (generous; nothing asserts on timing)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: Seconds a test waits for something LSL does before it fails.
WAIT_S = 60.0


def until(condition: Callable[[], object], timeout: float = WAIT_S, step: float = 0.02) -> bool:
    """Whether ``condition()`` became true within ``timeout`` seconds (polled every ``step``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


def open_out_inlets(pylsl: Any, name: str, output: Any) -> tuple[Any, Any]:
    """Inlets of the focus and marker outlets ``name-Focus``/``name-Markers`` of an LSL output,
    opened, with the outlets seeing them (so nothing sent from now on is missed)."""
    focus = pylsl.StreamInlet(pylsl.resolve_byprop("name", f"{name}-Focus", timeout=10)[0],
                              max_buflen=360)  # fmt: skip
    marks = pylsl.StreamInlet(pylsl.resolve_byprop("name", f"{name}-Markers", timeout=10)[0],
                              recover=False)  # fmt: skip
    focus.open_stream(10)
    marks.open_stream(10)
    assert output.focus_outlet.wait_for_consumers(10)
    assert output.marker_outlet.wait_for_consumers(10)
    return focus, marks
