"""Running a task in a child process that can be killed for real (`isolation="process"`):
on a cancel request or past its time limit the child is killed and its slot is free at once,
where a thread could only be asked to stop."""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable
from typing import Any

from ..errors import TaskCancelledError, TaskProcessError, one_line
from ..tasks.context import TaskContext
from ..result import Result

POLL_S = 0.05
JOIN_S = 5.0


def run_in_process(call: Callable[[], Any], context: TaskContext) -> Any:
    """Run `call()` in a forked child process and return what it returned (pickled back).

    Raises `TaskProcessError` for an exception in the child or a child that died, and
    `TaskCancelledError` when `context` was asked to stop (the child is killed).
    """
    # fork: the child has the task's code and registry without importing anything again.
    forking = multiprocessing.get_context("fork")
    receiver, sender = forking.Pipe(duplex=False)
    child = forking.Process(target=_child_main, args=(call, sender, context),
                            name=f"deferred-task-{context.task_id}")
    try:
        child.start()
    except BaseException:
        sender.close()
        receiver.close()
        raise
    sender.close()
    try:
        while not receiver.poll(POLL_S):
            if context.cancel_requested:
                child.kill()
                raise TaskCancelledError(f"task {context.task_id} was stopped: its process "
                                         "was killed")
            if not child.is_alive() and not receiver.poll():
                raise TaskProcessError("ProcessDied", f"the task's process ended with exit "
                                       f"code {child.exitcode} before it answered", "")
        try:
            kind, payload = receiver.recv()
        except EOFError:
            child.join(JOIN_S)
            raise TaskProcessError("ProcessDied", f"the task's process ended with exit code "
                                   f"{child.exitcode} before it answered", "") from None
    finally:
        receiver.close()
        child.join(JOIN_S)
        if child.is_alive():
            child.kill()
            child.join(JOIN_S)
        if not child.is_alive():  # close() refuses a process that still runs
            child.close()
    if kind == "result":  # a Result, sent as its parts (it is immutable, so not picklable)
        message, files = payload
        return Result(message, files=files)
    if kind == "ok":
        return payload
    raise TaskProcessError(*payload)


def _child_main(call: Callable[[], Any], sender: Any, context: TaskContext) -> None:
    # The parent's database connections and threads are not for the child: progress reports
    # and follow-ups are not available here.
    context.detach()
    try:
        try:
            value = call()
            answer: tuple[str, Any] = (("result", (value.msg, value.files))
                                       if isinstance(value, Result) else ("ok", value))
        except BaseException as exc:
            answer = ("error", (type(exc).__name__[:200], one_line(exc),
                                traceback.format_exc(),
                                tuple(kind.__name__ for kind in type(exc).__mro__)))
        try:
            sender.send(answer)
        except Exception as exc:  # the value cannot be pickled
            sender.send(("error", ("InvalidResultError",
                                   f"the result cannot be sent back: {one_line(exc)}", "")))
        sender.close()
    finally:
        os._exit(0)  # no atexit handlers, no flushing of the parent's buffers
