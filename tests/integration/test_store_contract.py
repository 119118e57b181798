"""The store's contract, on a real SQLite file: every transition guarded by the status it
expects, claims under quotas, outcomes with files, recovery, versions, errors."""

from __future__ import annotations

import datetime
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from polling import wait_until

from deferred.config import DbConfig, RecoveryConfig
from deferred.errors import (ConfigError, DatabaseVersionError, ServerAlreadyRunningError,
                             StoreFullError)
from deferred.records import EmailStatus, Outcome, QueueDepth, TaskError, TaskStatus, utcnow
from deferred.result import ResultFile
from deferred.scheduling.options import SubmitOptions
from deferred.store import SqlTaskStore
from deferred.store.schema import (SCHEMA_VERSION, chain_columns, ensure_schema,
                                   interruption_columns, metadata,
                                   progress_columns, scheduling_columns, schema_version,
                                   task_files, tasks, timeout_columns)


def succeeded(record, result='"ok"', files=()):
    return Outcome(record.id, record.attempts, TaskStatus.SUCCEEDED, result_json=result,
                   files=tuple(files), finished_at=utcnow())


def test_add_returns_a_committed_queued_record(store, sqlite_url):
    record = store.add("mult", {"operands": [3, 2, 8]}, email="a@example.com")
    assert (record.status, record.attempts, record.params) == (TaskStatus.QUEUED, 0,
                                                               {"operands": [3, 2, 8]})
    assert record.created_at.tzinfo is datetime.timezone.utc
    other = SqlTaskStore(DbConfig(url=sqlite_url))  # another connection sees it at once
    try:
        assert other.get(record.id) == record
    finally:
        other.close()


def test_queue_depths_tell_queued_delayed_and_running_apart(store):
    later = utcnow() + datetime.timedelta(hours=1)
    for _ in range(3):
        store.add("a", {})
    store.add("a", {}, options=SubmitOptions(run_at=later))
    store.add("b", {}, options=SubmitOptions(run_at=later))
    store.claim({"a": 1}, 1)
    finished = store.add("c", {})
    store.claim({"c": 1}, 1)
    store.finish([succeeded(store.get(finished.id))])
    assert store.queue_depths() == {"a": QueueDepth(queued=2, delayed=1, running=1),
                                    "b": QueueDepth(delayed=1)}


def test_claim_takes_oldest_first_and_marks_running_here(store):
    ids = [store.add("a", {"i": i}).id for i in range(5)]
    claimed = store.claim({"a": 10}, 3)
    assert [record.id for record in claimed] == ids[:3]
    assert all(record.status is TaskStatus.RUNNING and record.owner == store.server_id
               and record.attempts == 1 and record.started_at for record in claimed)
    assert [record.id for record in store.claim({"a": 10}, 10)] == ids[3:]
    assert store.claim({"a": 10}, 10) == []


def test_claim_respects_room_per_name_and_skips_full_names(store):
    for i in range(6):
        store.add("limited", {"i": i})
    other = [store.add("free", {"i": i}).id for i in range(3)]
    claimed = store.claim({"limited": 2, "free": 8}, 8)
    names = [record.name for record in claimed]
    assert names.count("limited") == 2 and names.count("free") == 3
    assert {record.id for record in claimed} >= set(other)
    assert store.claim({"free": 8}, 8) == []  # "limited" not in room: none of it


def test_claim_never_takes_a_name_absent_from_room(store):
    store.add("unknown_here", {})
    assert store.claim({"a": 5}, 5) == []


def test_claim_with_zero_total_claims_nothing(store):
    store.add("a", {})
    assert store.claim({"a": 1}, 0) == []


def test_outcome_is_stored_with_files_in_the_same_transaction_as_the_next_claim(store):
    first, second = store.add("a", {}), store.add("a", {})
    [running] = store.claim({"a": 1}, 1)
    files = [ResultFile("stats.tsv", b"a\tb\n"), ResultFile("data.bin", bytes(range(256)),
                                                              "application/x-custom")]
    [next_one] = store.claim({"a": 1}, 1, finished=[succeeded(running, '{"n": 1}', files)])
    assert next_one.id == second.id
    done = store.get(first.id)
    assert done.status is TaskStatus.SUCCEEDED and done.result == {"n": 1}
    assert done.finished_at >= done.started_at
    assert [(f.name, f.content_type, f.size_bytes) for f in done.files] == [
        ("stats.tsv", "text/tab-separated-values", 4), ("data.bin", "application/x-custom", 256)]
    tokens = {f.token for f in done.files}
    assert all(len(token) >= 43 for token in tokens)  # 256 bits, base64
    stored, data = store.read_file(done.files[1].token)
    assert data == bytes(range(256)) and stored == done.files[1]
    assert store.read_file("nope") is None


def test_failure_is_stored_with_type_message_and_traceback(store):
    store.add("a", {})
    [running] = store.claim({"a": 1}, 1)
    store.finish([Outcome(running.id, 1, TaskStatus.FAILED,
                          error=TaskError("ValueError", "boom", "Traceback ..."))])
    record = store.get(running.id)
    assert record.status is TaskStatus.FAILED
    assert record.error == TaskError("ValueError", "boom", "Traceback ...")


def test_outcome_of_a_stale_attempt_or_owner_changes_nothing(store, sqlite_url):
    store.add("a", {})
    [running] = store.claim({"a": 1}, 1)
    store.finish([Outcome(running.id, running.attempts + 1, TaskStatus.SUCCEEDED, '"x"')])
    assert store.get(running.id).status is TaskStatus.RUNNING
    other = SqlTaskStore(DbConfig(url=sqlite_url))
    try:
        other.finish([succeeded(running)])  # another server's write matches nothing
    finally:
        other.close()
    assert store.get(running.id).status is TaskStatus.RUNNING
    store.finish([succeeded(running)])
    store.finish([succeeded(running)])  # a second finish is dropped too
    assert store.get(running.id).status is TaskStatus.SUCCEEDED


def test_requeue_running_queues_what_another_run_left_and_the_next_claim_counts_it(
        store, sqlite_url):
    store.add("a", {})
    [running] = store.claim({"a": 1}, 1)
    store.close()
    restarted = SqlTaskStore(DbConfig(url=sqlite_url), recovery=RecoveryConfig(backoff_s=0))
    try:
        [requeued] = restarted.requeue_running()
        assert (requeued.id, requeued.status, requeued.owner) == (running.id,
                                                                  TaskStatus.QUEUED, None)
        [again] = restarted.claim({"a": 1}, 1, suspect=True)
        assert again.attempts == 2
        assert restarted.requeue_running() == []  # its own running rows are not orphans
    finally:
        restarted.close()


def test_list_is_newest_first_with_filters_and_paging(store):
    ids = [store.add("a" if i % 2 else "b", {"i": i}).id for i in range(7)]
    assert [r.id for r in store.list()] == ids[::-1]
    assert [r.id for r in store.list(name="a")] == [i for i in ids[::-1] if i % 2 == 0]
    page = store.list(limit=3)
    assert [r.id for r in page] == ids[:-4:-1]
    assert [r.id for r in store.list(limit=3, before_id=page[-1].id)] == ids[-4:-7:-1]
    store.claim({"a": 1}, 1)
    assert [r.name for r in store.list(status=TaskStatus.RUNNING)] == ["a"]


def test_list_finished_keeps_only_terminal_records(store):
    queued = store.add("a", {})
    running = store.add("b", {}, running=True)
    store.finish([succeeded(running)])
    [claimed] = store.claim({"a": 1}, 1)
    assert claimed.id == queued.id
    assert [r.id for r in store.list(finished=True)] == [running.id]


def test_list_text_matches_name_params_result_error_and_id_in_any_case(store):
    plain = store.add("plain", {"msg": "Hello World"})
    literal = store.add("odd", {"msg": "100%_done"})
    failed = store.add("other", {}, running=True)
    store.finish([Outcome(failed.id, failed.attempts, TaskStatus.FAILED,
                          error=TaskError("ValueError", "Quota exceeded"), finished_at=utcnow())])
    assert [r.id for r in store.list(text="hello world")] == [plain.id]
    assert [r.id for r in store.list(text="PLAIN")] == [plain.id]
    assert [r.id for r in store.list(text="quota")] == [failed.id]
    assert [r.id for r in store.list(text="%_")] == [literal.id]  # wildcards are literal
    assert [r.id for r in store.list(text=str(literal.id))][-1] == literal.id
    assert store.list(text="nowhere") == []


def test_a_second_exclusive_store_on_the_same_file_is_refused(sqlite_url):
    first = SqlTaskStore(DbConfig(url=sqlite_url), exclusive=True)
    try:
        with pytest.raises(ServerAlreadyRunningError, match="already using"):
            SqlTaskStore(DbConfig(url=sqlite_url), exclusive=True)
    finally:
        first.close()
    SqlTaskStore(DbConfig(url=sqlite_url), exclusive=True).close()  # free again


def test_in_memory_sqlite_is_refused():
    with pytest.raises(ConfigError, match="in-memory SQLite"):
        SqlTaskStore(DbConfig(url="sqlite://"))


@pytest.mark.sqlite_only
def test_sqlite_connections_are_set_up_for_durability(store):
    with store.database.engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") >= 1000
    seen = []
    sa.event.listen(store.database.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: seen.append(statement))
    store.add("a", {})
    store.get(1)
    assert "BEGIN IMMEDIATE" in seen  # writes take the write lock up front
    assert "BEGIN" in seen  # reads do not


def test_a_newer_database_is_refused_naming_both_versions(sqlite_url):
    SqlTaskStore(DbConfig(url=sqlite_url)).close()
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(schema_version.update().values(version=SCHEMA_VERSION + 5))
    engine.dispose()
    with pytest.raises(DatabaseVersionError, match=f"version {SCHEMA_VERSION + 5}, newer than "
                                                   f"version {SCHEMA_VERSION}"):
        SqlTaskStore(DbConfig(url=sqlite_url))


def test_an_older_database_is_upgraded_in_order(sqlite_url):
    engine = sa.create_engine(sqlite_url)
    assert ensure_schema(engine, upgrades=()) == 1
    applied = []

    def upgrade_1_to_2(conn):
        applied.append(2)
        conn.execute(sa.text("CREATE TABLE extra_two (x INTEGER)"))

    def upgrade_2_to_3(conn):
        applied.append(3)
        conn.execute(sa.text("INSERT INTO extra_two VALUES (3)"))

    assert ensure_schema(engine, upgrades=(upgrade_1_to_2, upgrade_2_to_3)) == 3
    assert applied == [2, 3]
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema_version.c.version)).scalar_one() == 3
        assert conn.execute(sa.text("SELECT x FROM extra_two")).scalar_one() == 3
    assert ensure_schema(engine, upgrades=(upgrade_1_to_2, upgrade_2_to_3)) == 3
    assert applied == [2, 3]
    engine.dispose()


def test_a_full_database_refuses_the_add_and_keeps_what_it_had(store, sqlite_url):
    kept = store.add("a", {"small": 1})
    path = sa.make_url(sqlite_url).database
    connection = sqlite3.connect(path)
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.close()

    @sa.event.listens_for(store.database.engine, "connect")  # every new connection: no room to grow
    def cap(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    store.database.dispose()
    with pytest.raises(StoreFullError, match="cannot store the task: the database is full"):
        store.add("a", {"big": "x" * 1_000_000})
    assert [record.id for record in store.list()] == [kept.id]


def test_concurrent_writers_in_one_process_all_commit(store):
    errors = []

    def add_many():
        try:
            for i in range(50):
                store.add("a", {"i": i})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add_many, name=f"writer-{n}") for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.list(limit=1000)) == 400


def test_pending_counts_are_per_name_and_status(store):
    for name in ("a", "a", "a", "b"):
        store.add(name, {})
    store.claim({"a": 1}, 1)
    assert store.pending_counts() == {("a", TaskStatus.QUEUED): 2, ("a", TaskStatus.RUNNING): 1,
                                      ("b", TaskStatus.QUEUED): 1}


def test_an_outcome_with_email_queues_its_email_in_the_same_transaction(store):
    record = store.add("a", {}, email="x@example.com")
    silent = store.add("a", {})
    running = store.claim({"a": 2}, 2)
    store.finish([succeeded(r, files=[ResultFile("f.txt", b"data")]) for r in running])
    assert store.get(silent.id).email_delivery is None
    delivery = store.get(record.id).email_delivery
    assert (delivery.status, delivery.recipient, delivery.attempts) == (
        EmailStatus.PENDING, "x@example.com", 0)
    [email] = store.outbox.claim(10)
    assert (email.record.id, email.attempt) == (record.id, 1)
    assert [(stored.name, data) for stored, data in email.files] == [("f.txt", b"data")]
    assert store.outbox.claim(10) == []  # being sent: nobody else takes it
    assert store.get(record.id).email_delivery.status is EmailStatus.SENDING
    assert store.outbox.finish(email.outbox_id, 1, EmailStatus.SENT) is True
    delivery = store.get(record.id).email_delivery
    assert delivery.status is EmailStatus.SENT and delivery.sent_at is not None
    assert store.outbox.finish(email.outbox_id, 1, EmailStatus.FAILED) is False  # done already


def test_a_retry_waits_until_it_is_due(store):
    store.add("a", {}, email="x@example.com")
    [running] = store.claim({"a": 1}, 1)
    store.finish([succeeded(running)])
    [email] = store.outbox.claim(10)
    later = utcnow() + datetime.timedelta(seconds=60)
    store.outbox.finish(email.outbox_id, 1, EmailStatus.PENDING, error="451 try later",
                       retry_at=later)
    assert store.outbox.claim(10) == []
    assert store.outbox.next_due() == later
    delivery = store.get(running.id).email_delivery
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        EmailStatus.PENDING, 1, "451 try later")


def test_emails_a_stopped_server_was_sending_are_queued_again(store, sqlite_url):
    store.add("a", {}, email="x@example.com")
    [running] = store.claim({"a": 1}, 1)
    store.finish([succeeded(running)])
    assert len(store.outbox.claim(10)) == 1
    store.close()
    restarted = SqlTaskStore(DbConfig(url=sqlite_url))
    try:
        assert restarted.outbox.requeue_interrupted() == 1
        [email] = restarted.outbox.claim(10)
        assert email.attempt == 2
    finally:
        restarted.close()


def test_a_version_1_database_is_upgraded_to_the_latest(sqlite_url):
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:  # the tables of version 1, as it created them
        added_later = {column.name for column in (*scheduling_columns(), *progress_columns(),
                                                   *timeout_columns(), *chain_columns(),
                                                   *interruption_columns())}
        sa.Table(tasks.name, sa.MetaData(), *(
            sa.Column(column.name, column.type, primary_key=column.primary_key,
                      nullable=column.nullable)
            for column in tasks.columns if column.name not in added_later)).create(conn)
        metadata.create_all(conn, tables=[task_files, schema_version])
        conn.execute(schema_version.insert().values(version=1))
        conn.execute(tasks.insert().values(name="old", params="{}", status="QUEUED",
                                           attempts=0, created_at=utcnow()))
    engine.dispose()
    store = SqlTaskStore(DbConfig(url=sqlite_url))
    try:
        assert [record.name for record in store.list()] == ["old"]
        store.add("a", {}, email="x@example.com")
        running = store.claim({"a": 1}, 1)
        store.finish([succeeded(r) for r in running])
        assert len(store.outbox.claim(10)) == 1
    finally:
        store.close()
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema_version.c.version)).scalar_one() == SCHEMA_VERSION
        assert sa.inspect(conn).has_table("deferred_servers")
    engine.dispose()


def test_a_symlink_to_a_database_in_use_is_refused_too(tmp_path, sqlite_url):
    first = SqlTaskStore(DbConfig(url=sqlite_url), exclusive=True)
    (tmp_path / "other.db").symlink_to(tmp_path / "tasks.db")
    try:
        with pytest.raises(ServerAlreadyRunningError):
            SqlTaskStore(DbConfig(url=f"sqlite+pysqlite:///{tmp_path / 'other.db'}"),
                         exclusive=True)
    finally:
        first.close()


def test_a_database_in_a_missing_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="db.url: cannot use the database .*No such file"):
        SqlTaskStore(DbConfig(url=f"sqlite+pysqlite:///{tmp_path / 'nope' / 'x.db'}"),
                     exclusive=True)


def test_a_delayed_task_is_not_claimed_before_its_time(store):
    soon = utcnow() + datetime.timedelta(seconds=0.3)
    delayed = store.add("a", {}, options=SubmitOptions(run_at=soon))
    assert store.next_run_at() == soon
    assert store.claim({"a": 1}, 1) == []
    [claimed] = wait_until(lambda: store.claim({"a": 1}, 1), timeout_s=10)
    assert claimed.id == delayed.id and utcnow() >= soon
    assert store.next_run_at() is None


def test_higher_priorities_go_first_and_a_point_is_worth_a_minute_of_waiting(store):
    low = store.add("a", {})
    high = store.add("a", {}, options=SubmitOptions(priority=1))
    old_low = store.add("a", {}, options=SubmitOptions(
        run_at=utcnow() - datetime.timedelta(minutes=2)))
    claimed = [store.claim({"a": 1}, 1)[0].id for _ in range(3)]
    assert claimed == [old_low.id, high.id, low.id]


def test_an_idempotency_key_stores_one_record(store):
    first = store.add("a", {"n": 1}, options=SubmitOptions(idempotency_key="order-17"))
    again = store.add("a", {"n": 2}, options=SubmitOptions(idempotency_key="order-17"))
    assert again.id == first.id and again.params == {"n": 1}
    assert len(store.list()) == 1


def test_cancel_ends_a_queued_record_and_flags_a_running_one(store):
    queued, running = store.add("a", {}), store.add("b", {})
    [claimed] = store.claim({"b": 1}, 1)
    cancelled = store.cancel(queued.id)
    assert cancelled.status is TaskStatus.CANCELLED and cancelled.finished_at is not None
    flagged = store.cancel(claimed.id)
    assert flagged.status is TaskStatus.RUNNING and flagged.cancel_requested
    assert store.claim({"a": 1}, 1) == []  # a cancelled record is never claimed
    assert store.cancel(10**9) is None
    assert running.id == claimed.id


def test_a_firing_of_a_periodic_task_is_stored_once(store):
    fire_at = datetime.datetime(2030, 1, 1, 7, 15, tzinfo=datetime.timezone.utc)
    assert store.last_firing("report") is None
    assert store.fire("report", fire_at) is True
    assert store.fire("report", fire_at) is False  # another server, or a second try
    assert store.last_firing("report") == fire_at
    [record] = store.list()
    assert (record.name, record.params, record.status) == ("report", {}, TaskStatus.QUEUED)


def test_old_finished_records_are_deleted_in_batches_with_their_files(store):
    old = [store.add("a", {"i": i}, running=True) for i in range(5)]
    store.finish([succeeded(record, files=[ResultFile("f.txt", b"x")]) for record in old])
    mailed = store.add("a", {}, email="a@example.com", running=True)
    store.finish([succeeded(mailed)])  # its email is still pending: kept
    other = store.add("b", {}, running=True)
    store.finish([succeeded(other)])
    queued = store.add("a", {})
    later = utcnow() + datetime.timedelta(seconds=1)
    assert store.delete_finished(later, names=["a"], limit=3) == 3
    assert store.delete_finished(later, names=["a"], limit=3) == 2
    assert store.delete_finished(later, names=["a"]) == 0
    assert {record.id for record in store.list()} == {mailed.id, other.id, queued.id}
    assert store.delete_finished(later, except_names=["a"]) == 1
    assert store.delete_finished(utcnow() - datetime.timedelta(days=1)) == 0
