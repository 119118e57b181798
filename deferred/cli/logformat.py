"""Log formats of the command line: `text` (one readable line) and `json` (one JSON object
per line, for log collectors)."""

from __future__ import annotations

import json
import logging
import time

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


def make_formatter(log_format: str) -> logging.Formatter:
    """The formatter of `--log-format` (`text` or `json`)."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
