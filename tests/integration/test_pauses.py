"""Pausing a task type, with real stores and dispatchers: its queued tasks wait while other
types run, its running ones finish, those claimed ahead are given back uncounted, a resume
starts them; on PostgreSQL, no server starts one after the pause is answered."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from polling import holds_for, wait_until

import deferred
from deferred.access.audit import Actor, AuditAction
from deferred.config import DbConfig
from deferred.records import TaskStatus
from deferred.runtime.dispatcher import Dispatcher
from deferred.runtime.quotas import Quotas
from deferred.runtime.runner import run_record
from deferred.store import SqlTaskStore
from deferred.tasks.registry import TaskRegistry

ADMIN = Actor("alice", "admin", "127.0.0.1")


class Starts:
    """When each task started (`time.monotonic()`), by name; `hold` keeps `x` tasks running."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[str, list[float]] = {}
        self.release = threading.Event()

    def run(self, name: str, hold_s: float) -> str:
        with self.lock:
            self.at.setdefault(name, []).append(time.monotonic())
        if hold_s:
            self.release.wait(hold_s)
        return name

    def count(self, name: str) -> int:
        with self.lock:
            return len(self.at.get(name, []))


@pytest.fixture
def starts() -> Starts:
    return Starts()


@pytest.fixture
def registry(starts: Starts) -> TaskRegistry:
    registry = TaskRegistry()
    for name in ("x", "y"):
        def run(hold_s: float = 0.0, _name: str = name) -> str:
            return starts.run(_name, hold_s)
        deferred.task(name=name, registry=registry)(run)
    return registry


@pytest.fixture
def make_dispatcher(registry: TaskRegistry) -> Iterator[Callable[..., Dispatcher]]:
    started: list[Dispatcher] = []

    def make(store: SqlTaskStore, global_limit: int, prefetch: int = 3) -> Dispatcher:
        # A long poll: every start here comes from a claim at start, a notify() or a pause.
        dispatcher = Dispatcher(store, Quotas(global_limit, {}, registry),
                                functools.partial(run_record, registry), poll_s=60,
                                prefetch=prefetch, shared=store.is_shared)
        dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in started:
        dispatcher.stop(grace_s=10)


def pause(store: SqlTaskStore, dispatcher: Dispatcher, name: str) -> None:
    """What `LocalTaskService.pause` does: commit, then tell the dispatcher (and wait out
    the fence on PostgreSQL)."""
    store.pauses.pause(name, ADMIN)
    dispatcher.pauses_changed(committed_at=time.monotonic())


def resume(store: SqlTaskStore, dispatcher: Dispatcher, name: str) -> None:
    store.pauses.resume(name, ADMIN)
    dispatcher.pauses_changed()


def statuses(store: SqlTaskStore, records) -> list[TaskStatus]:
    return [store.get(record.id).status for record in records]


def test_a_paused_types_queued_tasks_wait_while_other_types_run(store, starts,
                                                              make_dispatcher):
    dispatcher = make_dispatcher(store, global_limit=2)
    pause(store, dispatcher, "x")
    waiting = [store.add("x", {}) for _ in range(5)]
    others = [store.add("y", {}) for _ in range(5)]
    dispatcher.notify()
    wait_until(lambda: statuses(store, others) == [TaskStatus.SUCCEEDED] * 5)
    holds_for(lambda: statuses(store, waiting) == [TaskStatus.QUEUED] * 5, 0.3)
    assert starts.count("x") == 0
    resume(store, dispatcher, "x")  # starts them without a notify() or a poll
    wait_until(lambda: statuses(store, waiting) == [TaskStatus.SUCCEEDED] * 5)
    assert [store.get(record.id).attempts for record in waiting] == [1] * 5


def test_a_paused_types_running_tasks_finish(store, starts, make_dispatcher):
    running = [store.add("x", {"hold_s": 30}) for _ in range(2)]
    dispatcher = make_dispatcher(store, global_limit=2, prefetch=0)
    wait_until(lambda: starts.count("x") == 2)
    queued = store.add("x", {})
    pause(store, dispatcher, "x")
    starts.release.set()
    wait_until(lambda: statuses(store, running) == [TaskStatus.SUCCEEDED] * 2)
    dispatcher.notify()
    holds_for(lambda: store.get(queued.id).status is TaskStatus.QUEUED, 0.3)
    assert starts.count("x") == 2


def test_tasks_claimed_ahead_are_queued_again_uncounted_and_start_once_resumed(
        store, starts, make_dispatcher):
    dispatcher = make_dispatcher(store, global_limit=1, prefetch=3)
    first = store.add("x", {})  # one short run: `x` is now taken ahead
    dispatcher.notify()
    wait_until(lambda: store.get(first.id).status is TaskStatus.SUCCEEDED)
    held = store.add("y", {"hold_s": 30})  # the only worker is busy
    dispatcher.notify()
    wait_until(lambda: starts.count("y") == 1)
    ahead = [store.add("x", {}) for _ in range(3)]
    dispatcher.notify()
    wait_until(lambda: statuses(store, ahead) == [TaskStatus.RUNNING] * 3)
    assert [store.get(record.id).attempts for record in ahead] == [1] * 3

    pause(store, dispatcher, "x")
    for record in ahead:  # given back at once, as if never claimed
        stored = store.get(record.id)
        assert (stored.status, stored.attempts, stored.owner, stored.history) == (
            TaskStatus.QUEUED, 0, None, ())
    starts.release.set()  # the worker is free: still none of them starts
    wait_until(lambda: store.get(held.id).status is TaskStatus.SUCCEEDED)
    dispatcher.notify()
    holds_for(lambda: statuses(store, ahead) == [TaskStatus.QUEUED] * 3, 0.3)
    assert starts.count("x") == 1

    resume(store, dispatcher, "x")
    wait_until(lambda: statuses(store, ahead) == [TaskStatus.SUCCEEDED] * 3)
    assert [store.get(record.id).attempts for record in ahead] == [1] * 3
    assert starts.count("x") == 4


def test_the_store_claims_and_starts_nothing_of_a_paused_type(store):
    store.pauses.pause("x")
    queued = store.add("x", {})
    started = store.add("x", {}, running=True)  # a submit that may start: stored queued
    other = store.add("y", {})
    claimed = store.claim({"x": 5, "y": 5}, 10)
    assert [record.id for record in claimed] == [other.id]
    assert statuses(store, [queued, started]) == [TaskStatus.QUEUED] * 2
    store.pauses.resume("x")
    assert sorted(record.id for record in store.claim({"x": 5}, 5)) == [queued.id, started.id]


def test_pauses_are_idempotent_audited_and_kept_across_a_restart(store, tmp_path):
    first = store.pauses.pause("x", ADMIN)
    again = store.pauses.pause("x", Actor("bob", "admin", "10.0.0.2"))
    assert again == first and first.paused_by == "alice"
    assert store.pauses.resume("y", ADMIN) is False  # not paused: nothing written
    entries = store.access.audit_entries(limit=10)
    assert [(entry.action, entry.task_name, entry.actor.name) for entry in entries] == [
        (AuditAction.PAUSE, "x", "alice")]
    url = store.database.engine.url.render_as_string(hide_password=False)
    store.close()
    reopened = SqlTaskStore(DbConfig(url=url))
    try:
        assert reopened.pauses.paused() == {"x": first}
        assert reopened.pauses.names().names == frozenset({"x"})
        assert reopened.pauses.resume("x", ADMIN) is True
        assert reopened.pauses.paused() == {}
        assert reopened.access.audit_entries(limit=1)[0].action is AuditAction.RESUME
    finally:
        reopened.close()


def test_no_server_starts_a_paused_type_after_the_pause_returns(postgres_url, starts,
                                                                registry):
    """Two servers on one PostgreSQL database, with no NOTIFY between them: the other one
    holds `x` records claimed ahead, and its reading of the pauses is too old to start them
    once the pause has returned."""
    here = SqlTaskStore(DbConfig(url=postgres_url))
    there = SqlTaskStore(DbConfig(url=postgres_url))
    dispatchers = []
    try:
        for store in (here, there):
            store.join()
            dispatchers.append(Dispatcher(store, Quotas(1, {}, registry),
                                          functools.partial(run_record, registry), poll_s=60,
                                          prefetch=3, shared=True))
            dispatchers[-1].start()
        local, other = dispatchers
        first = there.add("x", {})  # one short run: `x` is now taken ahead there
        other.notify()
        wait_until(lambda: there.get(first.id).status is TaskStatus.SUCCEEDED)
        held = [here.add("y", {"hold_s": 30})]
        local.notify()  # its only worker is busy, and stays so
        wait_until(lambda: starts.count("y") == 1)
        held.append(there.add("y", {"hold_s": 30}))
        other.notify()
        wait_until(lambda: starts.count("y") == 2)
        ahead = [there.add("x", {}) for _ in range(3)]
        other.notify()
        wait_until(lambda: statuses(there, ahead) == [TaskStatus.RUNNING] * 3)
        assert {there.get(record.id).owner for record in ahead} == {there.server_id}

        pause(here, local, "x")
        answered_at = time.monotonic()
        starts.release.set()  # the other server's worker is free now
        wait_until(lambda: statuses(there, held) == [TaskStatus.SUCCEEDED] * 2)
        wait_until(lambda: statuses(there, ahead) == [TaskStatus.QUEUED] * 3)
        other.notify()
        holds_for(lambda: statuses(there, ahead) == [TaskStatus.QUEUED] * 3, 0.3)
        assert starts.count("x") == 1 and starts.at["x"][0] < answered_at
        assert [there.get(record.id).attempts for record in ahead] == [0] * 3

        resume(here, local, "x")
        other.notify()  # what the NOTIFY of the resume does between real servers
        wait_until(lambda: statuses(there, ahead) == [TaskStatus.SUCCEEDED] * 3)
        assert starts.count("x") == 4
    finally:
        for dispatcher in dispatchers:
            dispatcher.stop(grace_s=10)
        here.close()
        there.close()
