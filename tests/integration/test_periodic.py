"""Periodic and cron tasks: the scheduler thread fires each slot once, catches up a missed
firing once after downtime, and tasks declare their schedules correctly or fail to load."""

from __future__ import annotations

import datetime
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_until

import deferred
from deferred.config import DbConfig
from deferred.errors import TaskDefinitionError
from deferred.records import utcnow
from deferred.tasks.registry import TaskRegistry
from deferred.scheduling.scheduler import Scheduler
from deferred.scheduling.schedules import Schedule
from deferred.store import SqlTaskStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlTaskStore]:
    store = SqlTaskStore(DbConfig(url=f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"))
    yield store
    store.close()


def api(server: deferred.Server, path: str) -> dict:
    with urllib.request.urlopen(server.url + path, timeout=30) as answer:
        return json.loads(answer.read())


def test_a_periodic_task_is_submitted_every_slot(tmp_path):
    registry = TaskRegistry()

    @deferred.task(name="tick", registry=registry, every_s=1)
    def tick():
        return deferred.current().task_id

    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0}}, registry)
    server.start()
    try:
        records = wait_until(lambda: [
            record for record in api(server, "/api/tasks?status=SUCCEEDED")["tasks"]
            if record["task_name"] == "tick"][1:], timeout_s=10)
        assert all(record["result"] == record["task_id"] for record in records)
        assert all(record["params"] == {} for record in records)
    finally:
        server.stop()


def test_a_missed_firing_runs_once_at_start_not_once_per_slot(store):
    schedule = Schedule(every_s=60.0)
    now = utcnow()
    long_ago = schedule.latest_at_or_before(now - datetime.timedelta(hours=3))
    assert store.fire("report", long_ago)
    fired = []
    scheduler = Scheduler(store, {"report": schedule}, lambda: fired.append(1))
    scheduler.start()
    try:
        wait_until(lambda: fired)
    finally:
        scheduler.stop()
    assert store.last_firing("report") == schedule.latest_at_or_before(utcnow()) or \
        store.last_firing("report") == schedule.latest_at_or_before(now)
    assert len(store.list(name="report")) == 2  # the old one and one catch-up


def test_a_schedule_that_never_fired_waits_for_its_next_slot(store):
    scheduler = Scheduler(store, {"report": Schedule(every_s=3600.0)}, lambda: None)
    scheduler.start()
    scheduler.stop()
    assert store.list() == []


@pytest.mark.parametrize("options, message", [
    ({"cron": "61 * * * *"}, "task 'bad': cron '61 \\* \\* \\* \\*': minute: 61 is not"),
    ({"cron": "* * *"}, "task 'bad': cron '\\* \\* \\*': expected 5 fields"),
    ({"every_s": 0.1}, "task 'bad': every_s must be a number of seconds >= 1"),
    ({"every_s": 60, "cron": "* * * * *"}, "task 'bad': give every_s or cron, not both"),
])
def test_a_bad_schedule_fails_when_the_task_is_defined(options, message):
    with pytest.raises(TaskDefinitionError, match=message):
        @deferred.task(name="bad", registry=TaskRegistry(), **options)
        def bad():
            pass


def test_a_periodic_task_must_accept_empty_params():
    with pytest.raises(TaskDefinitionError, match="a periodic task runs with params {}"):
        @deferred.task(name="needy", registry=TaskRegistry(), every_s=60,
                       json_schema={"type": "object", "required": ["x"],
                                    "properties": {"x": {"type": "integer"}}})
        def needy(x):
            pass


def test_the_next_firing_is_shown_with_the_task_type(tmp_path):
    registry = TaskRegistry()

    @deferred.task(name="morning", registry=registry, cron="15,30 7 * * *")
    def morning():
        pass

    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0}}, registry)
    server.start()
    try:
        [task_type] = api(server, "/api/task-types")["task_types"]
        assert task_type["schedule"] == "cron 15,30 7 * * * (UTC)"
        assert task_type["next_run_at"][11:16] in ("07:15", "07:30")
        with urllib.request.urlopen(server.url + "/", timeout=30) as page:
            assert "cron 15,30 7 * * * (UTC), next" in page.read().decode()
    finally:
        server.stop()
