"""Helpers of the LSL tests: bounded waits (generous; nothing asserts on timing)."""

from __future__ import annotations

import time
from collections.abc import Callable

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
