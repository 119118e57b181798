"""`BackgroundThread`: the shape of the server's helper threads (heartbeat, listener,
scheduler, retention): a named, non-daemon thread, a stop flag it waits on instead of
sleeping, and a bounded join at stop. Every helper thread of the server, these and the
dispatcher, the mailer and the HTTP listener, stops with `stop(timeout_s) -> bool`."""

from __future__ import annotations

import threading

JOIN_S = 30.0


class BackgroundThread:
    """Subclasses write `_loop()`, which runs until `self._stopping` is set and waits on it
    (`self._stopping.wait(seconds)`) instead of `time.sleep`."""

    def __init__(self, name: str) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout_s: float = JOIN_S) -> bool:
        """Ask the thread to stop and wait for it (its current step at most), up to
        `timeout_s`. True if it has ended (or never started)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        raise NotImplementedError
