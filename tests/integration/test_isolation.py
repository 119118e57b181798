"""Tasks with `isolation="process"` run in a child process that is killed on cancel and past
the time limit, freeing the slot at once; their results, files and errors come back."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_until

import deferred
from deferred.errors import TaskDefinitionError, TaskFailedError
from deferred.records import TaskStatus
from deferred.tasks.registry import TaskRegistry


@pytest.fixture
def server(tmp_path: Path) -> Iterator[deferred.Server]:
    registry = TaskRegistry()

    @deferred.task(name="pid", registry=registry, isolation="process")
    def pid():
        return deferred.Result(msg=os.getpid(), files=[{"name": "a.txt", "data": b"abc"}])

    @deferred.task(name="hang", registry=registry, isolation="process", timeout_s=0.5)
    def hang(seconds=60):
        time.sleep(seconds)  # no cancel check: only a kill stops it
        return "woke"

    @deferred.task(name="refused", registry=registry, isolation="process", retries=1,
                   retry_backoff_s=0.01, retry_on=(OSError,))
    def refused():
        if deferred.current().attempt == 1:
            raise ConnectionRefusedError("not yet")  # a subclass of OSError
        return "second time"

    @deferred.task(name="crash", registry=registry, isolation="process")
    def crash(how):
        if how == "raise":
            raise KeyError("missing")
        os._exit(3)

    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "limits": {"global": 1}}, registry)
    server.start(listen=False)
    yield server
    server.stop(grace_s=10)


def test_a_process_task_runs_in_another_process_and_returns_its_files(server):
    handle = server.submit("pid")
    assert handle.wait(20) not in (None, os.getpid())
    assert [stored.name for stored in handle.record.files] == ["a.txt"]


def test_past_its_time_limit_the_process_is_killed_and_the_slot_freed(server):
    hung = server.submit("hang")
    wait_until(lambda: hung.status is TaskStatus.TIMED_OUT, timeout_s=20)
    after = server.submit("pid")  # the only slot: free again at once, not after 60 s
    assert after.wait(20) is not None


def test_a_cancel_kills_the_process(server):
    hung = server.submit("hang", {"seconds": 60}, timeout_s=120)
    wait_until(lambda: hung.status is TaskStatus.RUNNING, timeout_s=20)
    server.cancel(hung.id)
    wait_until(lambda: hung.status is TaskStatus.CANCELLED, timeout_s=20)
    assert server.submit("pid").wait(20) is not None


def test_errors_and_deaths_in_the_process_are_failures_with_their_type(server):
    raised = server.submit("crash", {"how": "raise"})
    with pytest.raises(TaskFailedError, match="KeyError: 'missing'"):
        raised.wait(20)
    assert "KeyError" in raised.record.error.traceback
    died = server.submit("crash", {"how": "exit"})
    with pytest.raises(TaskFailedError, match="ended with exit code 3"):
        died.wait(20)


def test_isolation_is_checked_when_the_task_is_defined():
    with pytest.raises(TaskDefinitionError, match="isolation must be 'thread' or 'process'"):
        @deferred.task(name="odd", registry=TaskRegistry(), isolation="container")
        def odd():
            pass


def test_retry_on_matches_a_subclass_raised_in_the_process(server):
    handle = server.submit("refused")
    assert handle.wait(20) == "second time"
    assert handle.record.attempts == 2
