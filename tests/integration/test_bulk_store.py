"""Bulk actions in the store, on a real SQLite file and a real PostgreSQL: each action changes
only the records its single action would, counts exactly, works in batches of its own
transactions (so other writers get the lock in between), and keeps one audit entry."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import sqlalchemy as sa

from deferred.access.audit import Actor, AuditAction
from deferred.bulk import BulkAction, BulkCounts, TaskSelection
from deferred.records import EmailStatus, Outcome, TaskStatus, utcnow
from deferred.result import ResultFile
from deferred.store.schema import firings, outbox, task_attempts, task_files, tasks
from deferred.store.transitions import new_row

ADMIN = Actor("alice", "admin", "127.0.0.1")
ALL = TaskSelection()


def seed(store, statuses: Iterable[TaskStatus], name: str = "job",
         params: str = "{}") -> list[int]:
    """Rows in these statuses, written straight into the table (oldest first); their ids."""
    now = utcnow()
    rows = []
    for status in statuses:
        row = new_row(name, params, now)
        finished = status.is_terminal
        row.update(status=status.value, attempts=1 if status is not TaskStatus.QUEUED else 0,
                   started_at=now if status is not TaskStatus.QUEUED else None,
                   finished_at=now if finished else None,
                   owner=store.server_id if status is TaskStatus.RUNNING else None)
        rows.append(row)
    with store.database.write("seed tasks") as conn:
        first = conn.execute(sa.select(sa.func.coalesce(sa.func.max(tasks.c.id), 0))).scalar_one()
        conn.execute(tasks.insert(), rows)
        return list(conn.execute(sa.select(tasks.c.id).where(tasks.c.id > first)
                                 .order_by(tasks.c.id)).scalars())


def statuses(store, ids: Iterable[int]) -> list[str]:
    return [store.get(task_id).status.value for task_id in ids]


def run(store, action, selection, actor=None, **options) -> BulkCounts:
    total = BulkCounts()
    for batch in store.bulk(action, selection, actor, **options):
        total += batch.counts
    return total


def audit_of(store, action: AuditAction):
    return [entry for entry in store.access.audit_entries(limit=100) if entry.action is action]


def test_a_bulk_cancel_cancels_queued_asks_running_and_skips_the_rest(store):
    queued, running, asked, done = seed(store, [TaskStatus.QUEUED, TaskStatus.RUNNING,
                                                TaskStatus.RUNNING, TaskStatus.SUCCEEDED])
    assert store.cancel(asked).cancel_requested
    batches = list(store.bulk(BulkAction.CANCEL,
                              TaskSelection(ids=(queued, running, asked, done, 999_999))))
    assert sum((batch.counts for batch in batches), BulkCounts()) == BulkCounts(
        matched=4, changed=2, asked_to_stop=1, not_found=1)
    assert [batch.cancelled for batch in batches] == [(queued,)]
    assert [batch.asked_to_stop for batch in batches] == [(running,)]
    assert statuses(store, [queued, running, asked, done]) == [
        "CANCELLED", "RUNNING", "RUNNING", "SUCCEEDED"]
    assert store.get(running).cancel_requested
    assert store.get(queued).finished_at is not None
    assert store.cancel_requests([running]) == [running]


def test_a_bulk_retry_queues_failed_cancelled_and_timed_out_ones_again(store):
    ids = seed(store, [TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMED_OUT,
                       TaskStatus.SUCCEEDED, TaskStatus.QUEUED, TaskStatus.RUNNING])
    counts = run(store, BulkAction.RETRY, TaskSelection(ids=tuple(ids)))
    assert (counts.matched, counts.changed, counts.skipped) == (6, 3, 3)
    assert statuses(store, ids) == ["QUEUED", "QUEUED", "QUEUED", "SUCCEEDED", "QUEUED",
                                    "RUNNING"]
    again = store.get(ids[0])
    assert (again.finished_at, again.started_at, again.owner) == (None, None, None)
    assert {record.id for record in store.claim({"job": 10}, 10)} == {*ids[:3], ids[4]}


def test_a_bulk_delete_takes_finished_ones_with_their_files_history_and_email(store):
    queued, running, failed, mailing, sent = seed(
        store, [TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.FAILED])[:3] + [
        store.add("job", {}, email="a@example.com").id,
        store.add("job", {}, email="b@example.com").id]
    claimed = {record.id: record for record in store.claim({"job": 10}, 10)}
    store.finish([Outcome(task_id, claimed[task_id].attempts, TaskStatus.SUCCEEDED, '"ok"',
                          files=(ResultFile("out.txt", b"x"),), finished_at=utcnow())
                  for task_id in (mailing, sent)])
    with store.database.write("mark one email sent") as conn:
        conn.execute(outbox.update().where(outbox.c.task_id == sent)
                     .values(status=EmailStatus.SENT.value))
        conn.execute(firings.insert().values(schedule="job", fire_at=utcnow(), task_id=sent))
    counts = run(store, BulkAction.DELETE, TaskSelection(finished=True), ADMIN)
    # The queued one was claimed above: running now, like `running`. `mailing` still has
    # its email to send: kept, as retention keeps it.
    assert (counts.matched, counts.changed, counts.skipped) == (3, 2, 1)
    assert store.get(failed) is None and store.get(sent) is None
    assert [store.get(task_id).status.value for task_id in (queued, running, mailing)] == [
        "RUNNING", "RUNNING", "SUCCEEDED"]
    with store.database.read("look for what was left") as conn:
        for table in (task_files, task_attempts, outbox):
            assert conn.execute(sa.select(table.c.task_id)
                                .where(table.c.task_id == sent)).all() == []
        assert conn.execute(sa.select(firings.c.task_id)).scalars().all() == [None]
    entry, = audit_of(store, AuditAction.BULK_DELETE)
    assert entry.detail == "deleted 2 of 3 matched, 1 skipped; filter status=finished"
    assert (entry.task_id, entry.actor) == (None, ADMIN)


def test_the_filters_take_what_the_task_list_shows(store):
    seed(store, [TaskStatus.FAILED] * 3 + [TaskStatus.SUCCEEDED] * 2, name="mail",
         params='{"to": "Bob@Example.com"}')
    seed(store, [TaskStatus.FAILED] * 4 + [TaskStatus.QUEUED], name="report")
    cases = [
        (TaskSelection(), {}),
        (TaskSelection(status=TaskStatus.FAILED), {"status": TaskStatus.FAILED}),
        (TaskSelection(finished=True), {"finished": True}),
        (TaskSelection(name="mail"), {"name": "mail"}),
        (TaskSelection(text="bob@example"), {"text": "bob@example"}),
        (TaskSelection(status=TaskStatus.FAILED, name="report", text="rep"),
         {"status": TaskStatus.FAILED, "name": "report", "text": "rep"}),
    ]
    for selection, list_filters in cases:
        listed = store.list(limit=1000, **list_filters)
        assert store.count(selection) == len(listed), selection
        assert store.count(selection, at_most=2) == min(2, len(listed)), selection
    preview = store.bulk_preview(BulkAction.RETRY, TaskSelection(text="bob@example"))
    assert (preview.matched, preview.changed, preview.skipped) == (5, 3, 2)
    assert run(store, BulkAction.RETRY, TaskSelection(text="bob@example")) == preview


def test_a_preview_counts_what_the_action_then_does(store):
    ids = seed(store, [TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.FAILED,
                       TaskStatus.SUCCEEDED])
    selection = TaskSelection(ids=(*ids, 10**12))
    for action in BulkAction:
        preview = store.bulk_preview(action, selection)
        assert preview.matched == 4 and preview.not_found == 1, (action, preview)
    assert store.bulk_preview(BulkAction.CANCEL, selection).changed == 2
    assert store.bulk_preview(BulkAction.CANCEL, selection).asked_to_stop == 1
    assert store.bulk_preview(BulkAction.DELETE, selection).changed == 2
    assert run(store, BulkAction.CANCEL, selection) == store.bulk_preview(
        BulkAction.CANCEL, TaskSelection(ids=(10**12,))) + BulkCounts(
        matched=4, changed=2, asked_to_stop=1)


def test_each_batch_is_a_transaction_of_its_own(store):
    ids = seed(store, [TaskStatus.FAILED] * 1250)
    commits = []
    sa.event.listen(store.database.engine, "commit", lambda conn: commits.append(1))
    batches = list(store.bulk(BulkAction.RETRY, TaskSelection(status=TaskStatus.FAILED),
                              batch_size=500))
    assert [batch.counts.matched for batch in batches] == [500, 500, 250]
    assert len(commits) == 3
    assert sorted(task_id for batch in batches for task_id in batch.queued) == ids


def test_the_audit_entry_counts_what_has_committed_until_the_last_batch(store):
    seed(store, [TaskStatus.FAILED] * 30 + [TaskStatus.SUCCEEDED] * 10)
    batches = store.bulk(BulkAction.RETRY, ALL, ADMIN, batch_size=25)
    next(batches)  # the newest 25: the 10 succeeded ones and 15 failed
    entry, = audit_of(store, AuditAction.BULK_RETRY)
    assert entry.detail == "retried 15 of 25 matched, 10 skipped; every task (in progress)"
    assert sum((batch.counts for batch in batches), BulkCounts()).changed == 15
    entry, = audit_of(store, AuditAction.BULK_RETRY)
    assert entry.detail == "retried 30 of 40 matched, 10 skipped; every task"


def test_rows_added_while_it_runs_are_left_alone(store):
    seed(store, [TaskStatus.FAILED] * 10)
    batches = store.bulk(BulkAction.RETRY, TaskSelection(status=TaskStatus.FAILED),
                         batch_size=4)
    assert next(batches).counts.changed == 4
    late, = seed(store, [TaskStatus.FAILED])
    assert sum((batch.counts for batch in batches), BulkCounts()).changed == 6
    assert store.get(late).status is TaskStatus.FAILED


def test_other_writers_get_the_lock_between_batches(store):
    seed(store, [TaskStatus.FAILED] * 5_000)
    first_batch, finished = threading.Event(), threading.Event()

    def bulk_retry() -> None:
        for _ in store.bulk(BulkAction.RETRY, ALL, batch_size=50):
            first_batch.set()
        finished.set()

    worker = threading.Thread(target=bulk_retry)
    worker.start()
    try:
        assert first_batch.wait(30)
        added = store.add("job", {})  # waits for the write lock: one batch at most
        assert not finished.is_set(), "the add waited for all 100 batches"
    finally:
        worker.join(120)
    assert store.get(added.id).status is TaskStatus.QUEUED


def test_a_bulk_action_over_100000_records_completes_with_exact_counts(store):
    seed(store, [TaskStatus.FAILED] * 60_000 + [TaskStatus.SUCCEEDED] * 40_000)
    counts = run(store, BulkAction.RETRY, ALL, ADMIN)
    assert (counts.matched, counts.changed, counts.skipped) == (100_000, 60_000, 40_000)
    entry, = audit_of(store, AuditAction.BULK_RETRY)
    assert entry.detail == "retried 60000 of 100000 matched, 40000 skipped; every task"
    assert store.count(TaskSelection(status=TaskStatus.QUEUED)) == 60_000
    assert store.count(TaskSelection(status=TaskStatus.SUCCEEDED)) == 40_000
