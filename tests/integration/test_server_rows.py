"""Each server's row in deferred_servers, on a real SQLite file and a real PostgreSQL
database: written when it joins, its heartbeat refreshed, "stopping" once its stop begins,
removed when it closes; the servers list with each one's running tasks, and a server silent
past its lease taken for dead (on SQLite removed by the next server to start, on PostgreSQL
forgotten after ten leases)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest
from polling import wait_until

from deferred.config import DbConfig, LimitsConfig
from deferred.records import Outcome, TaskStatus, utcnow
from deferred.servers import ServerState, deferred_version, parse_server_id
from deferred.store import SqlTaskStore

OpenStore = Callable[..., SqlTaskStore]


def done(record) -> Outcome:
    return Outcome(record.id, record.attempts, TaskStatus.SUCCEEDED, result_json='"ok"',
                   finished_at=utcnow())


@pytest.fixture(params=("sqlite", "postgresql"))
def open_store(request: pytest.FixtureRequest) -> Iterator[OpenStore]:
    """`open_store(lease_s=30, workers=None, join=True)`: a store on the test's database (the
    same one each call), joined unless told not to; all are closed after the test."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    stores: list[SqlTaskStore] = []

    def open_(lease_s: float = 30.0, workers: int | None = None,
              join: bool = True) -> SqlTaskStore:
        limits = LimitsConfig(global_limit=4, workers=workers)
        store = SqlTaskStore(DbConfig(url=url, lease_s=lease_s, heartbeat_s=lease_s / 4),
                             limits=limits)
        stores.append(store)
        if join:
            store.join()
        return store

    yield open_
    for store in stores:
        store.close()


def rows_by_id(store: SqlTaskStore) -> dict:
    return {server.id: server for server in store.servers()}


def row_in_state(store: SqlTaskStore, server_id: str, state: ServerState,
                 keep_beating: SqlTaskStore | None = None):
    """The row of `server_id` once it is in `state`, while `keep_beating` (a server with a
    short lease) keeps itself alive."""
    def found():
        if keep_beating is not None:
            keep_beating.beat()
        row = rows_by_id(store).get(server_id)
        return row if row is not None and row.state is state else None

    return wait_until(found, timeout_s=10, step_s=0.02)


def test_a_server_that_joins_writes_its_row(open_store):
    store = open_store(workers=3)
    [row] = store.servers()
    assert row.id == store.server_id and parse_server_id(row.id).pid == os.getpid()
    assert (row.host, row.pid, row.version) == (socket.gethostname(), os.getpid(),
                                                deferred_version())
    assert row.pool_size == 3 and row.running_tasks == 0
    assert row.state is ServerState.ALIVE and row.started_at == row.heartbeat_at
    assert 0 <= row.heartbeat_age_s < 30


def test_a_heartbeat_refreshes_the_row_and_keeps_the_rest(open_store):
    store = open_store()
    [first] = store.servers()
    assert store.beat() is True
    [later] = wait_until(lambda: store.beat() and [
        row for row in store.servers() if row.heartbeat_at > first.heartbeat_at])
    assert later.started_at == first.started_at and later.state is ServerState.ALIVE
    assert (later.host, later.pid, later.pool_size) == (first.host, first.pid, first.pool_size)


def test_running_tasks_are_counted_for_the_server_running_them(open_store):
    store = open_store()
    for _ in range(3):
        store.add("x", {})
    claimed = store.claim({"x": 2}, 2)
    assert len(claimed) == 2
    assert store.servers()[0].running_tasks == 2
    store.finish([done(claimed[0])])
    assert store.servers()[0].running_tasks == 1


def test_a_stopping_server_says_so_and_its_row_goes_when_it_closes(open_store):
    watcher = open_store(join=False)
    store = open_store()
    store.mark_stopping()
    assert rows_by_id(watcher)[store.server_id].state is ServerState.STOPPING
    assert store.beat() is True  # the grace: heartbeats go on, the state stays
    assert rows_by_id(watcher)[store.server_id].state is ServerState.STOPPING
    store.close()
    assert store.server_id not in rows_by_id(watcher)


def test_a_server_silent_past_its_lease_is_taken_for_dead(open_store):
    silent = open_store(lease_s=0.3)
    silent.mark_stopping()  # dead wins over stopping
    row = row_in_state(silent, silent.server_id, ServerState.TAKEN_FOR_DEAD)
    assert row.heartbeat_age_s > 0.3
    silent.beat()
    assert rows_by_id(silent)[silent.server_id].state is ServerState.STOPPING


@pytest.mark.parametrize("open_store", ["sqlite"], indirect=True)
def test_on_sqlite_the_next_server_removes_the_rows_of_dead_ones(open_store):
    crashed = open_store()  # never closes before the next one starts: it "died"
    crashed.add("x", {})
    crashed.claim({"x": 1}, 1)
    assert crashed.server_id in rows_by_id(crashed)
    following = open_store()
    assert list(rows_by_id(following)) == [following.server_id]
    assert following.servers()[0].running_tasks == 0  # the dead one's run is not its own


@pytest.mark.parametrize("open_store", ["postgresql"], indirect=True)
def test_on_postgresql_every_server_is_listed_and_the_long_dead_forgotten(open_store):
    alive, dying = open_store(lease_s=0.5), open_store(lease_s=0.5)
    alive.add("x", {})
    [record] = dying.claim({"x": 1}, 1)
    rows = rows_by_id(alive)
    assert set(rows) == {alive.server_id, dying.server_id}
    assert (rows[alive.server_id].running_tasks, rows[dying.server_id].running_tasks) == (0, 1)
    assert [row.id for row in alive.servers()] == [alive.server_id, dying.server_id]

    def dying_forgotten() -> bool:
        alive.beat()
        alive.requeue_running()  # a heartbeat's look for orphans: forgets the long dead
        return dying.server_id not in rows_by_id(alive)

    row_in_state(alive, dying.server_id, ServerState.TAKEN_FOR_DEAD, keep_beating=alive)
    assert rows_by_id(alive)[alive.server_id].state is ServerState.ALIVE
    wait_until(dying_forgotten, timeout_s=10, step_s=0.02)
    assert alive.get(record.id).owner is None  # queued again
    assert dying.beat() is False  # it comes back: taken for dead, its row written again
    assert rows_by_id(alive)[dying.server_id].state is ServerState.ALIVE
