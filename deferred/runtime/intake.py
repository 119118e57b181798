"""`Intake`: the door new tasks come through, which a stop closes without cutting off a
submit already inside."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from ..errors import ShuttingDownError

SHUTTING_DOWN_MESSAGE = "the server is shutting down and takes no new tasks"


class Intake:
    """Counts the submits under way; once closed, refuses new ones with `ShuttingDownError`.

    `close()` waits for the submits inside to get their answer, so each of them is either
    stored before the store closes or refused: never accepted and then lost.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._inside = 0
        self._closed = False

    @contextlib.contextmanager
    def enter(self) -> Iterator[None]:
        """The block in which one submit is stored. Raises `ShuttingDownError` once closed."""
        with self._changed:
            if self._closed:
                raise ShuttingDownError(SHUTTING_DOWN_MESSAGE)
            self._inside += 1
        try:
            yield
        finally:
            with self._changed:
                self._inside -= 1
                self._changed.notify_all()

    def close(self, timeout_s: float) -> bool:
        """Let no new submit in, and wait up to `timeout_s` for those inside. True if none
        is left inside."""
        with self._changed:
            self._closed = True
            return self._changed.wait_for(lambda: self._inside == 0, timeout_s)

    @property
    def is_closed(self) -> bool:
        """True once `close()` began: no new submit gets in."""
        return self._closed
