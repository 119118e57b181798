"""Running one claimed record: its task, in this thread, to an `Outcome`."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

from .errors import DeferredError, one_line
from .records import Outcome, TaskError, TaskRecord, TaskStatus, utcnow
from .registry import TaskRegistry
from .result import Result, encode_result

logger = logging.getLogger(__name__)


def run_record(registry: TaskRegistry, record: TaskRecord) -> Outcome:
    """Run the record's task with its params and return what happened; never raises.

    The params are checked again: the task's schema may have changed since the submit.
    """
    started, clock = record.started_at or utcnow(), time.monotonic()
    logger.info("task %s (%s) started, attempt %d", record.id, record.name, record.attempts)
    try:
        task_class = registry.get(record.name)
        params = task_class.check_params(dict(record.params))
        value: Any = task_class().run(**params)
        result_json = encode_result(value.msg if isinstance(value, Result) else value)
        files = value.files if isinstance(value, Result) else ()
    except BaseException as exc:  # a worker thread never sees KeyboardInterrupt
        message = f"error {int(exc.code)}: {exc}" if isinstance(exc, DeferredError) else one_line(exc)
        logger.info("task %s (%s) failed in %.3fs: %s: %s", record.id, record.name,
                    time.monotonic() - clock, type(exc).__name__, message)
        return Outcome(record.id, record.attempts, TaskStatus.FAILED,
                       error=TaskError(type(exc).__name__[:200], message,
                                       traceback.format_exc()),
                       started_at=started, finished_at=utcnow())
    logger.info("task %s (%s) succeeded in %.3fs", record.id, record.name,
                time.monotonic() - clock)
    return Outcome(record.id, record.attempts, TaskStatus.SUCCEEDED, result_json=result_json,
                   files=files, started_at=started, finished_at=utcnow())
