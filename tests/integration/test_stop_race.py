"""Submits from many threads while `Server.stop()` begins: each one is either stored (and runs,
at the latest after the next start) or refused with the shutting-down code; none is lost. And
the dispatcher's side of it: a submit in its turn when the stop begins is stored before the
stop goes on, and every later one is refused."""

from __future__ import annotations

import functools
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until

import deferred
from deferred.errors import ShuttingDownError
from deferred.interfaces import NewTask, Turn, TurnResult
from deferred.records import TaskRecord, TaskStatus
from deferred.runtime.dispatcher import Dispatcher
from deferred.runtime.quotas import Quotas
from deferred.runtime.runner import run_record
from deferred.store import SqlTaskStore
from deferred.tasks.registry import TaskRegistry

THREADS = 8
ROUNDS = 5
TIMEOUT_S = 30


@pytest.fixture
def registry() -> TaskRegistry:
    registry = TaskRegistry()
    gate = threading.Event()

    @deferred.task(name="quick", registry=registry)
    def quick(n: int) -> int:
        return n

    @deferred.task(name="gated", registry=registry)
    def gated() -> str:
        gate.wait(TIMEOUT_S)
        return "opened"

    registry.gate = gate  # type: ignore[attr-defined]
    return registry


class Submitter:
    """A thread that submits until it is refused: what it got, in order."""

    def __init__(self, server: deferred.Server, number: int) -> None:
        self.server, self.number = server, number
        self.stored: list[int] = []
        self.refusal: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name=f"submitter_{number}")

    def _loop(self) -> None:
        n = 0
        while True:
            try:
                handle = self.server.submit("quick", {"n": self.number * 1_000_000 + n})
            except BaseException as exc:  # noqa: BLE001 (the test checks which one)
                self.refusal = exc
                return
            self.stored.append(handle.id)
            n += 1


def statuses(database: Path, task_ids: list[int]) -> dict[int, str]:
    """The status of each of these rows, read from the SQLite file itself."""
    connection = sqlite3.connect(database)
    try:
        rows = connection.execute("SELECT id, status FROM deferred_tasks").fetchall()
    finally:
        connection.close()
    wanted = set(task_ids)
    return {task_id: status for task_id, status in rows if task_id in wanted}


def run_round(tmp_path: Path, registry: TaskRegistry, round_number: int) -> None:
    database = tmp_path / f"tasks{round_number}.db"
    config = {"db": {"url": f"sqlite+pysqlite:///{database}"},
              "limits": {"global": 2}}
    registry.gate.clear()  # type: ignore[attr-defined]
    server = deferred.Server(config, registry)
    server.start(listen=False)
    # A task that holds stop() in its grace until every submitter has been refused, so that
    # no submit can begin after stop() returned.
    held = server.submit("gated")
    wait_until(lambda: held.status is TaskStatus.RUNNING)
    submitters = [Submitter(server, number) for number in range(THREADS)]
    for submitter in submitters:
        submitter.thread.start()
    wait_until(lambda: sum(len(submitter.stored) for submitter in submitters) >= 40)
    stopper = threading.Thread(target=server.stop, kwargs={"grace_s": TIMEOUT_S},
                               name="stopper")
    stopper.start()
    for submitter in submitters:
        submitter.thread.join(TIMEOUT_S)
        assert not submitter.thread.is_alive()
    registry.gate.set()  # type: ignore[attr-defined]
    stopper.join(TIMEOUT_S)
    assert not stopper.is_alive()

    for submitter in submitters:
        assert isinstance(submitter.refusal, ShuttingDownError), repr(submitter.refusal)
        assert int(submitter.refusal.code) == 502
    stored = [task_id for submitter in submitters for task_id in submitter.stored]
    assert stored
    restarted = deferred.Server(config, registry)
    restarted.start(listen=False)
    try:
        wait_until(lambda: set(statuses(database, stored).values()) == {"SUCCEEDED"}
                   and len(statuses(database, stored)) == len(stored), timeout_s=TIMEOUT_S)
    finally:
        restarted.stop(grace_s=TIMEOUT_S)


def test_a_submit_while_stop_begins_is_stored_and_runs_or_is_refused_as_shutting_down(
        tmp_path, registry):
    for round_number in range(ROUNDS):
        run_round(tmp_path, registry, round_number)


class HeldTurns:
    """A store whose turns that add a task wait for `let_go` while `hold` is set."""

    def __init__(self, store: SqlTaskStore) -> None:
        self._store = store
        self.hold, self.entered, self.let_go = (threading.Event(), threading.Event(),
                                                threading.Event())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def turn(self, turn: Turn) -> TurnResult:
        if turn.new and self.hold.is_set():
            self.entered.set()
            assert self.let_go.wait(TIMEOUT_S)
        return self._store.turn(turn)


def make_dispatcher(store: Any, registry: TaskRegistry) -> Dispatcher:
    dispatcher = Dispatcher(store, Quotas(2, {}, registry),
                            functools.partial(run_record, registry), poll_s=60)
    dispatcher.start()
    return dispatcher


@pytest.mark.sqlite_only
def test_stop_lets_a_submit_in_its_turn_be_stored_and_refuses_the_next(store, registry):
    held = HeldTurns(store)
    dispatcher = make_dispatcher(held, registry)
    held.hold.set()
    answers: list[TaskRecord] = []
    submitter = threading.Thread(target=lambda: answers.append(
        dispatcher.admit(NewTask("quick", {"n": 1}))), name="submitter")
    submitter.start()
    assert held.entered.wait(TIMEOUT_S)
    stopped: list[bool] = []
    stopper = threading.Thread(target=lambda: stopped.append(dispatcher.stop(TIMEOUT_S)),
                               name="stopper")
    stopper.start()
    wait_until(lambda: dispatcher._intake.is_closed)
    with pytest.raises(ShuttingDownError):
        dispatcher.admit(NewTask("quick", {"n": 2}))
    assert stopper.is_alive()  # it waits for the submit under way
    held.let_go.set()
    submitter.join(TIMEOUT_S)
    stopper.join(TIMEOUT_S)
    assert not submitter.is_alive() and not stopper.is_alive() and stopped == [True]
    [record] = answers
    assert [(stored.id, stored.params) for stored in store.list(limit=10)] == [
        (record.id, {"n": 1})]
    # Its turn began before the stop, with a free worker: stored running, it either ran in
    # the grace or (not taken by a worker before the stop) was queued again for the next start.
    assert store.get(record.id).status in (TaskStatus.SUCCEEDED, TaskStatus.QUEUED)


@pytest.mark.sqlite_only
def test_a_submit_after_stop_is_refused_and_stores_nothing(store, registry):
    dispatcher = make_dispatcher(store, registry)
    assert dispatcher.stop(TIMEOUT_S) is True
    with pytest.raises(ShuttingDownError) as info:
        dispatcher.admit(NewTask("quick", {"n": 1}))
    assert info.value.to_json() == {"status": "ERROR", "error_code": 502, "error_msg":
                                    "the server is shutting down and takes no new tasks"}
    assert store.list(limit=10) == []
