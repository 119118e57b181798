"""Retries with back-off and their history, retry by hand, and progress reports, through an
embedded `deferred.Server` on a real SQLite file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_until

import deferred
from deferred.errors import BadRequestError, TaskDefinitionError, TaskFailedError
from deferred.records import TaskStatus
from deferred.tasks.registry import TaskRegistry


@pytest.fixture
def registry() -> TaskRegistry:
    registry = TaskRegistry()
    calls: dict[str, int] = {}
    gate = threading.Event()

    @deferred.task(name="flaky", registry=registry, retries=3, retry_backoff_s=0.05,
                   retry_max_delay_s=0.2)
    def flaky(fail_times):
        calls["flaky"] = calls.get("flaky", 0) + 1
        if calls["flaky"] <= fail_times:
            raise OSError(f"try {calls['flaky']} failed")
        return calls["flaky"]

    @deferred.task(name="picky", registry=registry, retries=5, retry_backoff_s=0.01,
                   retry_on=(OSError,))
    def picky():
        raise ValueError("not worth a retry")

    @deferred.task(name="stepwise", registry=registry)
    def stepwise():
        context = deferred.current()
        context.progress(50, "half way")
        gate.wait(30)
        context.progress(100, "done")
        return "ok"

    registry.gate = gate  # type: ignore[attr-defined]
    return registry


@pytest.fixture
def server(tmp_path: Path, registry: TaskRegistry) -> Iterator[deferred.Server]:
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0}}, registry)
    server.start(listen=False)
    yield server
    registry.gate.set()
    server.stop(grace_s=10)


def test_a_failing_task_runs_again_with_back_off_and_keeps_its_history(server):
    handle = server.submit("flaky", {"fail_times": 2})
    assert handle.wait(10) == 3
    record = handle.record
    assert record.attempts == 3
    assert [(item.number, item.status) for item in record.history] == [
        (1, TaskStatus.QUEUED), (2, TaskStatus.QUEUED), (3, TaskStatus.SUCCEEDED)]
    assert record.history[0].error.message == "try 1 failed"
    assert record.history[1].started_at >= record.history[0].finished_at


def test_out_of_retries_the_task_fails_with_its_last_error(server):
    handle = server.submit("flaky", {"fail_times": 10})
    with pytest.raises(TaskFailedError, match="try 4 failed"):
        handle.wait(10)
    assert handle.record.attempts == 4 and len(handle.record.history) == 4


def test_an_error_not_in_retry_on_fails_at_once(server):
    handle = server.submit("picky")
    with pytest.raises(TaskFailedError, match="not worth a retry"):
        handle.wait(10)
    assert handle.record.attempts == 1


def test_a_failed_task_is_retried_by_hand_and_keeps_its_history(server):
    handle = server.submit("picky")
    with pytest.raises(TaskFailedError):
        handle.wait(10)
    server.retry(handle.id)
    wait_until(lambda: handle.record.attempts == 2 and handle.ready)
    assert [item.number for item in handle.record.history] == [1, 2]
    done = server.submit("flaky", {"fail_times": 0})
    done.wait(10)
    with pytest.raises(BadRequestError, match="only a failed, cancelled or timed-out task"):
        server.retry(done.id)


def test_progress_is_shown_while_the_task_runs_and_kept_after(server, registry):
    handle = server.submit("stepwise")
    wait_until(lambda: handle.record.progress is not None)
    assert (handle.record.progress.percent, handle.record.progress.message) == (50.0,
                                                                                "half way")
    registry.gate.set()
    assert handle.wait(10) == "ok"
    assert handle.record.progress.percent == 100.0


def test_retry_options_are_checked_when_the_task_is_defined():
    with pytest.raises(TaskDefinitionError, match="task 'bad': retries: retries must be"):
        @deferred.task(name="bad", registry=TaskRegistry(), retries=-1)
        def bad():
            pass
    with pytest.raises(TaskDefinitionError, match="unknown option 'retry'"):
        @deferred.task(name="typo", registry=TaskRegistry(), retry=3)
        def typo():
            pass
    with pytest.raises(ValueError, match="progress must be a number from 0 to 100"):
        deferred.TaskContext(1, "x", 1).progress(101)


@pytest.fixture
def slow_registry() -> TaskRegistry:
    registry = TaskRegistry()
    release = threading.Event()

    @deferred.task(name="stuck", registry=registry, timeout_s=0.3)
    def stuck():
        release.wait(30)  # ignores the cancel request, as stuck code does
        return "too late"

    @deferred.task(name="quick", registry=registry)
    def quick(seconds=0.0):
        deferred.current().wait_cancelled(seconds)
        return "quick"

    registry.release = release  # type: ignore[attr-defined]
    return registry


def test_a_task_past_its_time_limit_is_timed_out_and_keeps_its_slot_until_it_returns(
        tmp_path, slow_registry):
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "limits": {"global": 1}}, slow_registry)
    server.start(listen=False)
    try:
        stuck = server.submit("stuck")
        wait_until(lambda: stuck.status is TaskStatus.TIMED_OUT, timeout_s=10)
        assert stuck.record.error.type == "TimeoutError"
        assert "time limit of 0.3s" in stuck.record.error.message
        waiting = server.submit("quick")
        assert waiting.status is TaskStatus.QUEUED  # the slot is still taken
        slow_registry.release.set()
        assert waiting.wait(10) == "quick"
        assert stuck.status is TaskStatus.TIMED_OUT and stuck.result is None
        overridden = server.submit("quick", {"seconds": 5}, timeout_s=0.2)
        wait_until(lambda: overridden.status is TaskStatus.TIMED_OUT, timeout_s=10)
    finally:
        slow_registry.release.set()
        server.stop(grace_s=10)


def test_a_percent_function_of_the_params_sets_the_progress_when_a_run_starts(tmp_path):
    registry = TaskRegistry()

    @deferred.task(name="countdown", registry=registry,
                   percent=lambda total, remaining: 100 * (total - remaining) / total)
    def countdown(total, remaining):
        if remaining:  # openATTIC's style: each step submits the next one
            deferred.current().submit("countdown", {"total": total,
                                                    "remaining": remaining - 1})
        return remaining

    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"}},
                             registry)
    server.start(listen=False)
    try:
        first = server.submit("countdown", {"total": 4, "remaining": 3})
        first.wait(10)
        assert first.record.progress.percent == 25.0
        second = server.submit("countdown", {"total": 4, "remaining": 0})
        second.wait(10)
        assert second.record.progress.percent == 100.0
    finally:
        server.stop()
    with pytest.raises(TaskDefinitionError, match="percent must be a function"):
        @deferred.task(name="bad", registry=TaskRegistry(), percent=50)
        def bad():
            pass
