"""Runs that a server's death interrupted, as the store recovers them (SQLite and PostgreSQL):
counted, queued again after a back-off, FAILED past the limit."""

from __future__ import annotations

import datetime

import pytest

from deferred.config import DbConfig, RecoveryConfig
from deferred.records import TaskRecord, TaskStatus, utcnow
from deferred.store import SqlTaskStore
from deferred.store.recovery import INTERRUPTED, requeue_interrupted
from deferred.store.schema import tasks

NO_WAIT = RecoveryConfig(max_interrupted_runs=3, backoff_s=0.0, max_backoff_s=0.0)


def recovered_by_another_server(store: SqlTaskStore, policy: RecoveryConfig
                                ) -> list[TaskRecord]:
    """What a server starting next to `store` (taken for dead: it never beats) makes of the
    records `store` left running."""
    other = SqlTaskStore(DbConfig(url=store.url), recovery=policy)
    try:
        return other.requeue_running()
    finally:
        other.close()


def test_an_interrupted_run_is_counted_and_queued_again_after_a_back_off(store):
    task = store.add("a", {})
    [running] = store.claim({"a": 1}, 1)
    before = utcnow()
    [record] = recovered_by_another_server(store, RecoveryConfig(backoff_s=10.0))
    assert (record.id, record.status, record.owner, record.interruptions) == (
        task.id, TaskStatus.QUEUED, None, 1)
    # 10 s, give or take a quarter: a restart loop cannot start it again at once.
    assert before + datetime.timedelta(seconds=7.4) <= record.run_at
    assert record.run_at <= utcnow() + datetime.timedelta(seconds=12.6)
    assert store.claim({"a": 1}, 1, suspect=True) == []  # not due yet
    [attempt] = store.get(task.id).history
    assert (attempt.number, attempt.status, attempt.error.type) == (
        running.attempts, TaskStatus.QUEUED, INTERRUPTED)
    assert attempt.error.message.startswith("the server stopped while running it (1 of 3 "
                                            "times); it runs again after ")


def test_the_third_interruption_fails_the_task_with_its_email_and_history(store):
    task = store.add("a", {}, email="ops@example.com")
    for count in (1, 2):
        store.claim({"a": 1}, 1, suspect=True)
        [record] = recovered_by_another_server(store, NO_WAIT)
        assert (record.status, record.interruptions) == (TaskStatus.QUEUED, count)
    store.claim({"a": 1}, 1, suspect=True)
    [record] = recovered_by_another_server(store, NO_WAIT)
    assert (record.status, record.interruptions, record.attempts) == (TaskStatus.FAILED, 3, 3)
    assert record.error.type == INTERRUPTED
    assert record.error.message.startswith("the server stopped 3 times while running it; it "
                                           "is not run again")
    assert record.finished_at is not None
    stored = store.get(task.id)
    assert [(item.number, item.status) for item in stored.history] == [
        (1, TaskStatus.QUEUED), (2, TaskStatus.QUEUED), (3, TaskStatus.FAILED)]
    assert stored.email_delivery is not None and stored.email_delivery.recipient == \
        "ops@example.com"
    assert store.claim({"a": 1}, 1, suspect=True) == []  # never again
    assert recovered_by_another_server(store, NO_WAIT) == []


def test_a_retry_by_hand_starts_the_count_again(store):
    task = store.add("a", {})
    for _ in range(3):
        store.claim({"a": 1}, 1, suspect=True)
        recovered_by_another_server(store, NO_WAIT)
    assert store.get(task.id).status is TaskStatus.FAILED
    retried = store.retry(task.id)
    assert (retried.status, retried.interruptions) == (TaskStatus.QUEUED, 0)
    [again] = store.claim({"a": 1}, 1)
    assert again.id == task.id


def test_an_interrupted_run_that_was_asked_to_stop_ends_cancelled(store):
    task = store.add("a", {})
    store.claim({"a": 1}, 1)
    store.cancel(task.id)
    [record] = recovered_by_another_server(store, NO_WAIT)
    assert (record.status, record.cancel_requested) == (TaskStatus.CANCELLED, True)
    assert record.error.message == ("the server stopped while running it, after it was "
                                    "asked to stop")


def test_a_task_limit_of_one_fails_at_the_first_interruption(store):
    store.add("a", {})
    store.claim({"a": 1}, 1)
    [record] = recovered_by_another_server(
        store, RecoveryConfig(max_interrupted_runs=1, backoff_s=0.0))
    assert record.status is TaskStatus.FAILED
    assert record.error.message.startswith("the server stopped once while running it")


def test_the_back_off_doubles_up_to_its_most():
    policy = RecoveryConfig(backoff_s=5.0, max_backoff_s=12.0)
    assert [policy.backoff_after_s(n) for n in (1, 2, 3, 4)] == [5.0, 10.0, 12.0, 12.0]


@pytest.mark.parametrize(("draw", "delay_s"), [(0.0, 6.0), (0.5, 8.0), (0.999999, 10.0)])
def test_the_jitter_stays_within_a_quarter(store, draw, delay_s):
    store.add("a", {})
    store.claim({"a": 1}, 1)
    now = utcnow()
    with store.database.write("recover") as conn:
        [record] = requeue_interrupted(conn, store._hot, tasks.c.owner.is_not(None),
                                       RecoveryConfig(backoff_s=8), now, draw=lambda: draw)
    assert (record.run_at - now).total_seconds() == pytest.approx(delay_s, abs=1e-3)


def test_a_claim_takes_one_interrupted_run_when_asked_and_leaves_them_else(store):
    for _ in range(3):
        store.add("a", {})
    store.claim({"a": 3}, 3)
    suspects = recovered_by_another_server(store, NO_WAIT)
    assert [record.interruptions for record in suspects] == [1, 1, 1]
    fresh = store.add("a", {})
    assert [record.id for record in store.claim({"a": 3}, 3)] == [fresh.id]
    first = store.claim({"a": 3}, 3, suspect=True)
    assert [record.id for record in first] == [suspects[0].id]  # one, the oldest
    assert first[0].interruptions == 1
    assert store.claim({"b": 1}, 1, suspect=True) == []  # only of a name with room
    assert [record.id for record in store.claim({"a": 3}, 3, suspect=True)] == [
        suspects[1].id]
