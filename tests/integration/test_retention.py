"""Retention: finished tasks past `retention_s` or their task's `ttl_s` are deleted, batch by
batch; unfinished ones and those younger never are."""

from __future__ import annotations

import datetime
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import deferred
from deferred.config import DbConfig
from deferred.errors import TaskDefinitionError
from deferred.records import Outcome, TaskStatus, utcnow
from deferred.tasks.registry import TaskRegistry
from deferred.runtime.retention import Retention
from deferred.store import SqlTaskStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlTaskStore]:
    store = SqlTaskStore(DbConfig(url=f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"))
    yield store
    store.close()


def finish(store: SqlTaskStore, name: str, age_s: float) -> int:
    record = store.add(name, {}, running=True)
    store.finish([Outcome(record.id, record.attempts, TaskStatus.SUCCEEDED,
                          result_json='"ok"',
                          finished_at=utcnow() - datetime.timedelta(seconds=age_s))])
    return record.id


def test_each_task_keeps_its_own_ttl_and_the_rest_the_default(store):
    old_short = finish(store, "short", 120)
    young_short = finish(store, "short", 10)
    old_plain = finish(store, "plain", 7200)
    young_plain = finish(store, "plain", 120)
    running = store.add("plain", {}, running=True).id
    retention = Retention(store, default_s=3600, ttls={"short": 60})
    assert retention.purge_once() == 2
    assert {record.id for record in store.list()} == {young_short, young_plain, running}
    del old_short, old_plain


def test_without_retention_nothing_is_ever_deleted(store):
    finish(store, "plain", 10**8)
    retention = Retention(store, default_s=None, ttls={})
    assert not retention.is_needed
    assert retention.purge_once() == 0 and len(store.list()) == 1


def test_ttl_is_checked_when_the_task_is_defined():
    with pytest.raises(TaskDefinitionError, match="ttl_s must be a number of seconds above 0"):
        @deferred.task(name="bad", registry=TaskRegistry(), ttl_s=-5)
        def bad():
            pass


def test_the_task_page_says_until_when_a_result_is_kept(tmp_path):
    registry = TaskRegistry()

    @deferred.task(name="brief", registry=registry, ttl_s=3600)
    def brief():
        return "soon gone"

    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0}, "retention_s": 86400}, registry)
    server.start()
    try:
        handle = server.submit("brief")
        handle.wait(10)
        with urllib.request.urlopen(f"{server.url}/tasks/{handle.id}", timeout=30) as page:
            text = page.read().decode()
        assert "Kept until" in text and "then deleted with its files" in text
    finally:
        server.stop()
