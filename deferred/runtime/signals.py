"""`StopSignals`: SIGINT and SIGTERM as flags that the main loop reads.

The handlers only count the signal; a wake-up socket (`signal.set_wakeup_fd`) lets the main
loop sleep until one arrives, so logging, stopping and exiting happen in ordinary code, as
huey's consumer does it, never inside a handler.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

logger = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Counts SIGINT and SIGTERM while installed, and lets another thread wake the waiter.

    Use as a context manager: `with StopSignals() as signals: signals.wait(timeout_s)`.
    Outside the main thread (where Python delivers no signals) nothing is installed, and only
    `wake()` ends a wait.
    """

    def __init__(self) -> None:
        self.count = 0
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous: dict[int, object] = {}
        self._previous_fd: int | None = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(),
                                                     warn_on_full_buffer=False)
            self._previous = {sig: signal.signal(sig, self._on_signal) for sig in SIGNALS}
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if self._previous_fd is not None:
            signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.count += 1  # the wake-up byte is written by the interpreter itself

    def wake(self) -> None:
        """End the current or next `wait()` early (from any thread)."""
        try:
            self._writer.send(b"\0")
        except OSError:  # closed, or the buffer is full: the loop wakes anyway
            pass

    def wait(self, timeout_s: float) -> int:
        """Sleep until a signal arrives (or `wake()`), at most `timeout_s`; the number of
        signals so far."""
        try:
            readable, _, _ = select.select([self._reader], [], [], timeout_s)
        except OSError:
            return self.count
        if readable:
            try:
                while self._reader.recv(4096):
                    pass
            except (BlockingIOError, OSError):
                pass
        return self.count


def stop_unless_signalled(stop: Callable[[], bool], signals: StopSignals,
                          poll_s: float) -> bool:
    """`stop()` in a thread of its own (`deferred-stopper`) while this one watches for a
    second signal, which ends the process at once (the running rows run again at the next
    start). Returns what `stop()` returned."""
    signalled = signals.count
    finished: list[bool] = []

    def run_stop() -> None:
        try:
            finished.append(stop())
        finally:
            signals.wake()

    stopper = threading.Thread(target=run_stop, name="deferred-stopper")
    stopper.start()
    while stopper.is_alive():
        if signals.wait(poll_s) > signalled:
            logger.warning("second signal: stopping at once")
            logging.shutdown()
            os._exit(1)
    stopper.join()
    return bool(finished and finished[0])
