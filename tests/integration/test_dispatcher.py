"""The dispatcher with a real SQLite store: quotas exact, outcomes stored, wake-ups prompt."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from polling import wait_until

import deferred
from deferred.runtime.dispatcher import Dispatcher
from deferred.runtime.quotas import Quotas
from deferred.records import TaskStatus
from deferred.tasks.registry import TaskRegistry
from deferred.runtime.runner import run_record


class Probe:
    """Records how many tasks run at once, in total and per name."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, int] = {}
        self.max_running: dict[str, int] = {}
        self.max_total = 0
        self.release = threading.Event()

    def run(self, name: str, hold_s: float) -> str:
        with self.lock:
            self.running[name] = self.running.get(name, 0) + 1
            self.max_running[name] = max(self.max_running.get(name, 0), self.running[name])
            self.max_total = max(self.max_total, sum(self.running.values()))
        try:
            if hold_s:
                self.release.wait(hold_s)
            return name
        finally:
            with self.lock:
                self.running[name] -= 1


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def registry(probe: Probe) -> TaskRegistry:
    registry = TaskRegistry()
    for name in ("x", "y"):
        def run(hold_s: float = 0.005, _name: str = name) -> str:
            return probe.run(_name, hold_s)
        deferred.task(name=name, registry=registry)(run)

    @deferred.task(name="boom", registry=registry)
    def boom() -> None:
        raise ValueError("boom")

    return registry


@pytest.fixture
def make_dispatcher(store, registry) -> Iterator[Callable[..., Dispatcher]]:
    started: list[Dispatcher] = []
    finished_ids: list[int] = []

    def make(global_limit: int, names: dict[str, int], prefetch: int = 3) -> Dispatcher:
        quotas = Quotas(global_limit, names, registry)
        # A long poll: every start here must come from a claim at start or a notify().
        dispatcher = Dispatcher(
            store, quotas, functools.partial(run_record, registry), poll_s=60,
            prefetch=prefetch,
            on_finished=lambda outcomes: finished_ids.extend(o.task_id for o in outcomes))
        dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    make.finished_ids = finished_ids  # type: ignore[attr-defined]
    yield make
    for dispatcher in started:
        dispatcher.stop(grace_s=10)


def all_finished(store, count: int) -> bool:
    records = store.list(limit=1000)
    return len(records) == count and all(r.status.is_terminal for r in records)


@pytest.mark.parametrize("prefetch", [0, 3, 8])
def test_quotas_are_reached_and_never_exceeded(store, probe, make_dispatcher, prefetch):
    for i in range(40):
        store.add("x", {"hold_s": 0.02})
    for i in range(40):
        store.add("y", {"hold_s": 0.02})
    make_dispatcher(global_limit=4, names={"x": 2}, prefetch=prefetch)
    wait_until(lambda: all_finished(store, 80), timeout_s=60)
    assert probe.max_total == 4
    assert probe.max_running["x"] == 2
    assert {r.status for r in store.list(limit=100)} == {TaskStatus.SUCCEEDED}


def test_other_types_fill_the_slots_a_type_at_its_limit_cannot_take(store, probe,
                                                                    make_dispatcher):
    for _ in range(3):
        store.add("x", {"hold_s": 30})
    for _ in range(3):
        store.add("y", {"hold_s": 30})
    make_dispatcher(global_limit=4, names={"x": 2})
    wait_until(lambda: sum(probe.running.values()) == 4)
    assert probe.running == {"x": 2, "y": 2}
    probe.release.set()
    wait_until(lambda: all_finished(store, 6))


def test_a_type_at_its_limit_does_not_hold_up_others(store, probe, make_dispatcher):
    for _ in range(3):
        store.add("x", {"hold_s": 30})  # held until released
    late = store.add("y", {"hold_s": 0})
    make_dispatcher(global_limit=8, names={"x": 2})
    wait_until(lambda: store.get(late.id).status is TaskStatus.SUCCEEDED)
    assert probe.running.get("x") == 2
    probe.release.set()
    wait_until(lambda: all_finished(store, 4))


def test_a_submit_wakes_the_dispatcher_at_once(store, make_dispatcher):
    dispatcher = make_dispatcher(global_limit=2, names={})
    # Its first turn found nothing: it sleeps on its poll, and looks only when told.
    wait_until(lambda: not dispatcher._maybe_queued)
    record = store.add("y", {"hold_s": 0})
    dispatcher.notify()
    wait_until(lambda: store.get(record.id).status is TaskStatus.SUCCEEDED)


def test_failures_are_stored_with_their_error(store, make_dispatcher):
    record = store.add("boom", {})
    make_dispatcher(global_limit=2, names={})
    wait_until(lambda: store.get(record.id).status is TaskStatus.FAILED)
    error = store.get(record.id).error
    assert (error.type, error.message) == ("ValueError", "boom")
    assert "Traceback" in error.traceback


def test_finished_records_are_reported_after_they_are_committed(store, make_dispatcher):
    ids = [store.add("y", {"hold_s": 0}).id for _ in range(10)]
    make = make_dispatcher
    make(global_limit=3, names={})
    wait_until(lambda: sorted(make.finished_ids) == ids)
    assert all(store.get(i).status is TaskStatus.SUCCEEDED for i in ids)


def test_stop_gives_running_tasks_their_grace_and_stores_them(store, probe, registry):
    quotas = Quotas(2, {}, registry)
    dispatcher = Dispatcher(store, quotas, functools.partial(run_record, registry))
    record = store.add("x", {"hold_s": 0.3})
    queued = [store.add("x", {"hold_s": 0}) for _ in range(5)]
    dispatcher.start()
    wait_until(lambda: store.get(record.id).status is TaskStatus.RUNNING)
    assert dispatcher.stop(grace_s=10) is True
    assert store.get(record.id).status is TaskStatus.SUCCEEDED
    assert all(store.get(r.id).status in (TaskStatus.SUCCEEDED, TaskStatus.QUEUED)
               for r in queued)


def test_stop_leaves_tasks_past_their_grace_running_in_the_store(store, probe, registry):
    quotas = Quotas(1, {}, registry)
    dispatcher = Dispatcher(store, quotas, functools.partial(run_record, registry))
    record = store.add("x", {"hold_s": 30})
    dispatcher.start()
    wait_until(lambda: store.get(record.id).status is TaskStatus.RUNNING)
    assert dispatcher.stop(grace_s=0.1) is False
    assert store.get(record.id).status is TaskStatus.RUNNING  # re-queued at the next start
    probe.release.set()


@pytest.fixture
def big_registry() -> TaskRegistry:
    registry = TaskRegistry()

    @deferred.task(name="big", registry=registry)
    def big(size: int) -> str:
        return "x" * size

    return registry


@pytest.mark.sqlite_only  # sqlite3.setlimit makes SQLite refuse a big result
def test_a_result_the_database_refuses_fails_its_task_and_blocks_nothing(store, big_registry):
    @sa.event.listens_for(store.database.engine, "connect")
    def small_limit(dbapi_connection, _record):
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 10_000)

    store.database.engine.dispose()
    refused = store.add("big", {"size": 50_000})
    fine = [store.add("big", {"size": 10}) for _ in range(3)]
    quotas = Quotas(1, {}, big_registry)
    dispatcher = Dispatcher(store, quotas, functools.partial(run_record, big_registry))
    dispatcher.start()
    try:
        wait_until(lambda: all(store.get(r.id).status.is_terminal for r in [refused, *fine]))
    finally:
        dispatcher.stop(grace_s=10)
    record = store.get(refused.id)
    assert record.status is TaskStatus.FAILED
    assert record.error.message.startswith("the result cannot be stored: ")
    assert [store.get(r.id).status for r in fine] == [TaskStatus.SUCCEEDED] * 3


def test_a_result_over_max_result_bytes_fails_its_task(store, big_registry):
    record = store.add("big", {"size": 2_000})
    quotas = Quotas(1, {}, big_registry)
    dispatcher = Dispatcher(store, quotas, functools.partial(run_record, big_registry,
                                                             max_result_bytes=1_000))
    dispatcher.start()
    try:
        wait_until(lambda: store.get(record.id).status.is_terminal)
    finally:
        dispatcher.stop(grace_s=10)
    error = store.get(record.id).error
    assert error.type == "InvalidResultError"
    assert "2002 bytes, over the limit of 1000" in error.message


@pytest.fixture
def ahead(store, probe, registry):
    """A dispatcher of one worker that takes up to 3 records ahead, its worker held by a
    long `x` and 3 `y` records (short: one ran before) claimed ahead of it."""
    quotas = Quotas(1, {}, registry)
    dispatcher = Dispatcher(store, quotas, functools.partial(run_record, registry), poll_s=60,
                            prefetch=3)
    dispatcher.start()
    first = store.add("y", {"hold_s": 0})
    dispatcher.notify()
    wait_until(lambda: store.get(first.id).status is TaskStatus.SUCCEEDED)
    held = store.add("x", {"hold_s": 30})
    dispatcher.notify()
    wait_until(lambda: probe.running.get("x") == 1)
    waiting = [store.add("y", {"hold_s": 0}) for _ in range(3)]
    dispatcher.notify()
    wait_until(lambda: all(store.get(r.id).status is TaskStatus.RUNNING for r in waiting))
    try:
        yield dispatcher, held, waiting
    finally:
        probe.release.set()
        dispatcher.stop(grace_s=10)


def test_records_taken_ahead_wait_for_a_worker_and_are_queued_again_at_stop(store, probe,
                                                                           ahead):
    dispatcher, held, waiting = ahead
    assert [store.get(r.id).attempts for r in waiting] == [1, 1, 1]  # counted at the claim
    assert probe.max_running.get("y") == 1 and probe.running.get("y") == 0  # none started
    assert dispatcher.stop(grace_s=0.2) is False  # the long `x` still runs
    for record in waiting:
        stored = store.get(record.id)
        assert (stored.status, stored.attempts, stored.owner, stored.history) == (
            TaskStatus.QUEUED, 0, None, ())  # as if never claimed
    assert store.get(held.id).status is TaskStatus.RUNNING


def test_a_record_taken_ahead_and_cancelled_ends_without_running(store, probe, ahead):
    dispatcher, held, waiting = ahead
    store.cancel(waiting[1].id)
    dispatcher.request_cancel(waiting[1].id)
    wait_until(lambda: store.get(waiting[1].id).status is TaskStatus.CANCELLED)
    probe.release.set()
    wait_until(lambda: all(store.get(r.id).status.is_terminal for r in [held, *waiting]))
    assert [store.get(r.id).status for r in waiting] == [
        TaskStatus.SUCCEEDED, TaskStatus.CANCELLED, TaskStatus.SUCCEEDED]


def test_a_name_that_took_its_whole_room_is_claimed_again_without_a_poll(store, probe,
                                                                         make_dispatcher):
    # `y` runs short, so the turns may claim it ahead; `x` has not run, so its room is the
    # free workers only: a claim that fills it leaves the total room unused, and must not
    # take that for an empty queue.
    make = make_dispatcher
    dispatcher = make(global_limit=2, names={}, prefetch=3)
    shorts = [store.add("y", {"hold_s": 0}) for _ in range(3)]
    dispatcher.notify()
    wait_until(lambda: all(store.get(r.id).status is TaskStatus.SUCCEEDED for r in shorts))
    records = [store.add("x", {"hold_s": 0}) for _ in range(5)]
    dispatcher.notify()  # one notify: the poll (60 s) does not come
    wait_until(lambda: all(store.get(r.id).status is TaskStatus.SUCCEEDED for r in records))
