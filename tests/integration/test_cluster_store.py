"""Stores of several servers on one real PostgreSQL database: quotas counted over all of
them, heartbeats, and the running tasks of dead servers (and only theirs) queued again."""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterator

import pytest
from polling import wait_until

from deferred.config import DbConfig, LimitsConfig, RecoveryConfig
from deferred.records import Outcome, TaskStatus, utcnow
from deferred.store import SqlTaskStore

LIMITS = LimitsConfig(global_limit=5, names=types.MappingProxyType({"x": 2}))
MakeStore = Callable[..., SqlTaskStore]


@pytest.fixture
def make_store(postgres_url: str) -> Iterator[MakeStore]:
    stores: list[SqlTaskStore] = []

    def make(lease_s: float = 30.0, limits: LimitsConfig | None = LIMITS,
             join: bool = True) -> SqlTaskStore:
        # Interrupted runs may run again at once here (their back-off has tests of its own).
        store = SqlTaskStore(DbConfig(url=postgres_url, lease_s=lease_s,
                                      heartbeat_s=lease_s / 4), limits=limits,
                             recovery=RecoveryConfig(backoff_s=0))
        stores.append(store)
        if join:
            store.join()
        return store

    yield make
    for store in stores:
        store.close()


def done(record) -> Outcome:
    return Outcome(record.id, record.attempts, TaskStatus.SUCCEEDED, result_json='"ok"',
                   finished_at=utcnow())


def test_a_postgresql_store_is_shared_and_a_sqlite_one_is_not(make_store, sqlite_url):
    assert make_store().is_shared
    sqlite = SqlTaskStore(DbConfig(url=sqlite_url))
    try:
        assert not sqlite.is_shared and sqlite.beat()
    finally:
        sqlite.close()


def test_claims_of_two_servers_count_the_limits_together(make_store):
    first, second = make_store(), make_store()
    for _ in range(4):
        first.add("x", {})
    for _ in range(6):
        first.add("y", {})
    # Two servers alive: each may hold its share of a limit, half of it rounded up (global
    # 5: 3; x 2: 1), even with the cluster's other slots free.
    claimed = first.claim({"x": 8, "y": 8}, 8)
    assert sorted(r.name for r in claimed) == ["x", "y", "y"]
    again = second.claim({"x": 8, "y": 8}, 8)
    assert sorted(r.name for r in again) == ["x", "y"]  # the 2 global slots left
    assert first.claim({"x": 8, "y": 8}, 8) == [] == second.claim({"x": 8, "y": 8}, 8)
    # The first finishes its x: the second, at its share of x, takes none; the first may.
    first.finish([done(r) for r in claimed if r.name == "x"])
    assert [r.name for r in second.claim({"x": 8}, 8)] == []
    assert [r.name for r in first.claim({"x": 8}, 8)] == ["x"]


def test_a_server_alone_takes_a_whole_limit_and_leaves_a_share_to_one_that_joins(make_store):
    first = make_store()
    for _ in range(12):
        first.add("x", {})
    held = first.claim({"x": 8}, 8)
    assert len(held) == 2  # alone: the whole of x's limit
    second = make_store()
    assert second.claim({"x": 8}, 8) == []  # the limit is taken
    # The first frees both slots and claims again at once: with two servers alive its share
    # is one, so the other slot is left for the newcomer.
    first.finish([done(r) for r in held])
    assert len(first.claim({"x": 8}, 8)) == 1
    assert len(second.claim({"x": 8}, 8)) == 1


def test_concurrent_claims_never_exceed_the_cluster_limits(make_store):
    stores = [make_store() for _ in range(4)]
    for index in range(60):
        stores[0].add("x" if index % 2 else "y", {})
    claimed: list = []
    lock = threading.Lock()

    def claim(store: SqlTaskStore) -> None:
        records = store.claim({"x": 8, "y": 8}, 8)
        with lock:
            claimed.extend(records)

    threads = [threading.Thread(target=claim, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 5 and sum(r.name == "x" for r in claimed) <= 2
    assert len({r.id for r in claimed}) == 5


def test_without_limits_a_claim_takes_what_the_server_has_room_for(make_store):
    store = make_store(limits=None)
    for _ in range(10):
        store.add("x", {})
    assert len(store.claim({"x": 8}, 8)) == 8


def test_only_the_running_tasks_of_dead_servers_are_queued_again(make_store):
    alive, dying, watcher = (make_store(lease_s=2.0) for _ in range(3))
    alive.add("y", {})
    dying.add("y", {})
    [kept] = alive.claim({"y": 1}, 1)
    [orphan] = dying.claim({"y": 1}, 1)
    alive.beat()
    dying.beat()  # fresh now, however long the set-up took on a busy machine
    assert watcher.requeue_running() == []  # every heartbeat is fresh

    def requeue_while_alive_beats() -> list:
        alive.beat()
        return watcher.requeue_running()

    requeued = wait_until(requeue_while_alive_beats, timeout_s=10, step_s=0.05)
    assert [r.id for r in requeued] == [orphan.id]
    assert watcher.get(kept.id).status is TaskStatus.RUNNING
    assert watcher.get(orphan.id).status is TaskStatus.QUEUED
    assert dying.beat() is False  # it notices it was taken for dead
    assert dying.beat() is True
    dying.finish([done(orphan)])  # its stale outcome matches nothing
    assert watcher.get(orphan.id).status is TaskStatus.QUEUED


def test_a_server_that_leaves_orphans_its_tasks_at_once(make_store):
    leaving, other = make_store(), make_store()
    leaving.add("y", {})
    [record] = leaving.claim({"y": 1}, 1)
    leaving.close()
    assert [r.id for r in other.requeue_running()] == [record.id]
    [again] = other.claim({"y": 1}, 1, suspect=True)
    assert again.attempts == 2 and again.owner == other.server_id
