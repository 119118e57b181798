"""Log formats of the command line: `text` (one readable line) and `json` (one JSON object
per line, for log collectors)."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from typing import Any, TextIO

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"

# Attributes every LogRecord has (and those formatters add): anything else came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message", "asctime", "taskName"}
# Characters that str.splitlines() and some log shippers take as line ends, which
# json.dumps(ensure_ascii=False) leaves as they are (it escapes those below U+0020 only).
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: `ts` (ISO 8601, UTC), `level`, `logger`,
    `thread`, `message`, the fields given with `extra=` (`task_id`, `task_name`, `attempt`,
    `duration_s`, `status`, ...), and `exception` (the traceback, as one string) when there
    is one. Values JSON cannot hold are written as their `str()`."""

    _second: tuple[int, str] = (0, "1970-01-01T00:00:00")  # the last second formatted

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        cached, prefix = self._second  # one read: other threads may replace it
        if second != cached:  # one strftime a second: a busy server logs thousands of lines
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, prefix)
        entry = {
            "ts": "%s.%06dZ" % (prefix, (record.created - second) * 1e6),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)  # cached, as Formatter does
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        text = _ENCODER.encode(entry)
        return text if text.isascii() else text.translate(_LINE_BREAKS)


class TextFormatter(logging.Formatter):
    """`TEXT_FORMAT`, its local time formatted once a second rather than once a line."""

    _second: tuple[int, str] = (-1, "")

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        cached, prefix = self._second  # one read: other threads may replace it
        if second != cached:
            prefix = time.strftime(self.default_time_format, time.localtime(second))
            self._second = (second, prefix)
        return f"{prefix},{int(record.msecs):03d}"  # as logging's default_msec_format


def make_formatter(log_format: str) -> logging.Formatter:
    """The formatter of `--log-format` (`text` or `json`)."""
    return JsonFormatter() if log_format == "json" else TextFormatter()


class _Handoff(logging.Handler):
    """Queues records for a `LogWriter` as they are (formatting happens in its thread);
    `flush()` waits until the writer has written what was queued before it."""

    def __init__(self, writer: LogWriter) -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        self._writer.put(record)

    def flush(self) -> None:
        self._writer.drain()

    def close(self) -> None:
        self._writer.stop()
        super().close()


class _Drained:
    """Put in the queue by `drain()`: set once everything before it was written."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class LogWriter:
    """Writes the server's log lines from a thread of its own, `deferred-log-writer`: a
    request thread only queues its record, and never waits for a lock held across a write
    to stderr by another one (32 request threads each logging a line did, half the time).
    What piled up while it wrote goes out in one write.

    `handler()` is what the loggers get. `stop()` (or `logging.shutdown()`, which closes the
    handler, before an `os._exit`) writes what was queued and ends the thread.
    """

    DRAIN_S = 5.0
    BATCH = 512

    def __init__(self, stream: TextIO, formatter: logging.Formatter) -> None:
        self._stream, self._formatter = stream, formatter
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._handoff = _Handoff(self)
        self._thread = threading.Thread(target=self._run, name="deferred-log-writer")
        self._stopped = False
        self._pid = os.getpid()

    def handler(self) -> logging.Handler:
        """The handler that queues records for this writer."""
        return self._handoff

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def put(self, record: logging.LogRecord) -> None:
        """Queue a record to be written; in a forked child (a process-isolated task), where
        the writer thread did not follow, write it at once."""
        if os.getpid() != self._pid:
            self._write_in_child(self._format(record))
            return
        self._queue.put(record)

    def drain(self) -> None:
        """Wait (at most `DRAIN_S`) until what was queued so far is written."""
        if not self._thread.is_alive() or threading.current_thread() is self._thread:
            return
        marker = _Drained()
        self._queue.put(marker)
        marker.done.wait(self.DRAIN_S)

    def stop(self) -> None:
        """Write what is queued, then end the thread (once)."""
        if self._stopped or not self._thread.is_alive():
            return
        self._stopped = True
        self._queue.put(_STOP)
        self._thread.join(self.DRAIN_S)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write([self._format(item) for item in batch
                         if item is not _STOP and not isinstance(item, _Drained)])
            for marker in (item for item in batch if isinstance(item, _Drained)):
                marker.done.set()
            if any(item is _STOP for item in batch):
                return

    def _format(self, record: logging.LogRecord) -> str:
        try:
            return self._formatter.format(record)
        except Exception:  # a bad record must not end the writer
            return f"(a log record could not be formatted: {record!r})"

    def _write_in_child(self, line: str) -> None:
        # Straight to the file descriptor: the stream's buffer lock may have been held by
        # the writer thread at the fork, and would then never be released in this process.
        try:
            os.write(self._stream.fileno(), (line + "\n").encode("utf-8", "replace"))
        except (AttributeError, OSError, ValueError):  # no descriptor (a StringIO): buffered
            self._write([line])

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        try:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # stderr closed or full: nowhere to say it
            pass
