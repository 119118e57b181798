"""Waiting in tests: poll a condition with a deadline, never a guessed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(predicate: Callable[[], Any], timeout_s: float = 10, step_s: float = 0.01) -> Any:
    """Poll `predicate` until it returns something true and return it; fail after
    `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(step_s)  # the poll's step; the deadline bounds the wait


def holds_for(predicate: Callable[[], Any], duration_s: float, step_s: float = 0.01) -> None:
    """Poll `predicate` for `duration_s`; fail the first time it is false."""
    until = time.monotonic() + duration_s
    while True:
        assert predicate(), f"the condition stopped holding within {duration_s}s"
        if time.monotonic() >= until:
            return
        time.sleep(step_s)  # the poll's step; the duration bounds the wait
