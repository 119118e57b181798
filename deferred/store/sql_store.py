"""`SqlTaskStore`: task records in SQL through SQLAlchemy Core, one transaction per method.

The status changes themselves are in `transitions`, the queries that read records in
`reads`; the audit log and sessions (`access`), the outbox (`outbox`) and the paused task
types (`pauses`) are parts of their own on the same `Database`.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..access.audit import Actor, AuditAction
from ..bulk import BulkAction, BulkBatch, BulkCounts, TaskSelection
from ..config import DbConfig, LimitsConfig, RecoveryConfig
from ..errors import StoreError, StoreRejectedError
from ..interfaces import NewTask, PausedNames, Turn, TurnResult
from ..records import ChainStep, Outcome, TaskRecord, TaskStatus, utcnow
from ..scheduling.options import SubmitOptions
from ..servers import ServerInfo, ServerRecord, new_server_id
from . import bulk, cluster, reads, transitions
from .access import SqlAccessStore, audit_values, insert_audit
from .database import Database
from ..group_commit import GroupCommitter
from .outbox import SqlOutbox
from .stats import SqlStats
from .pauses import SqlPauses, read_names
from .record_reader import SqlRecordReader
from .recovery import requeue_interrupted
from .schema import firings, tasks
from .server_rows import SqlServers
from .hot_path import hot_path
from .statements import build_hot_statements
from .turn import run_turn

logger = logging.getLogger(__name__)



class SqlTaskStore(SqlRecordReader):
    """Task records in a SQL database (SQLite or PostgreSQL), with `access` (audit log,
    sessions, tokens), `outbox` (result emails) and `pauses` (paused task types) on the same
    database.

    Every public method is one transaction. With `exclusive=True` on SQLite the store takes
    the one-server lock. Raises `StoreUnavailableError`, `StoreFullError`, `ConfigError`,
    `ServerAlreadyRunningError` or `DatabaseVersionError`.
    """

    def __init__(self, config: DbConfig, *, server_id: str | None = None,
                 exclusive: bool = False, limits: LimitsConfig | None = None,
                 recovery: RecoveryConfig | None = None) -> None:
        self.server_id = server_id or new_server_id()
        self._recovery = recovery or RecoveryConfig()
        self.database = Database(config.url, exclusive=exclusive)
        self._access = SqlAccessStore(self.database)
        self._outbox = SqlOutbox(self.database, self.server_id)
        self._stats = SqlStats(self.database)
        self._pauses = SqlPauses(self.database)
        self._lease_s = config.lease_s
        self._limits = limits  # counted over every server on a shared database
        self._servers = SqlServers(self.database, self.server_id, ServerInfo.of_this_process(
            limits.pool_size if limits is not None else 0), config.lease_s)
        self._joined = False
        self._adds: GroupCommitter[NewTask, TaskRecord] = GroupCommitter(self._add_batch)
        self._hot = hot_path(self.database.dialect, build_hot_statements(self.database.dialect))

    @property
    def access(self) -> SqlAccessStore:
        """The audit log, the UI's sessions and the stored API tokens."""
        return self._access

    @property
    def outbox(self) -> SqlOutbox:
        """The result emails to send."""
        return self._outbox

    @property
    def stats(self) -> SqlStats:
        """The dashboard's statistics: roll-up, queue samples, the charts' views."""
        return self._stats

    @property
    def pauses(self) -> SqlPauses:
        """The paused task types."""
        return self._pauses

    @property
    def is_shared(self) -> bool:
        """True when several servers may use the database at once (PostgreSQL): quotas are
        counted in the database, and servers keep heartbeats."""
        return self.database.is_shared

    @property
    def url(self) -> sa.URL:
        """The database's URL (with its password, for a listening connection)."""
        return self.database.engine.url

    def join(self) -> None:
        """Announce this server with its row in `deferred_servers` and a fresh heartbeat (on
        SQLite, removing the rows dead servers left)."""
        self._servers.join()
        self._joined = True

    def beat(self) -> bool:
        """Refresh this server's heartbeat. False when other servers had taken it for dead
        (its running tasks may have been queued again and taken elsewhere)."""
        if not self._joined and not self.is_shared:
            return True
        return self._servers.beat()

    def mark_stopping(self) -> None:
        """Say in this server's row that its stop has begun."""
        if self._joined:
            self._servers.mark_stopping()

    def servers(self) -> list[ServerRecord]:
        """Every server's row, oldest first: alive, stopping or taken for dead, with how
        many records each has running."""
        return self._servers.list()

    def add(self, name: str, params: Mapping[str, Any], email: str | None = None,
            options: SubmitOptions | None = None, *, running: bool = False,
            chain_next: Sequence[ChainStep] = (), actor: Actor | None = None) -> TaskRecord:
        """Store a new record and return it, committed: queued (not to start before
        `options.run_at` when given), or with `running` already running here (the caller
        holds a free slot for it, so it skips the queue). With an idempotency key already
        stored, nothing is added and the record stored under it is returned. With an `actor`,
        its audit entry (a launch, or a chain's) commits with the record.

        Threads adding at the same time share one transaction (group commit): a commit costs
        an fsync, and a request waiting for its own would wait for everyone else's. (A
        server's submits go through its dispatcher's turns instead.)
        """
        return self._adds.submit(NewTask(name, params, email, options or SubmitOptions(),
                                         tuple(chain_next), actor, may_start=running))

    def _add_batch(self, batch: Sequence[NewTask]) -> list[TaskRecord]:
        room: dict[str, int] = {}
        for task in batch:
            if task.may_start:
                room[task.name] = room.get(task.name, 0) + 1
        return self.turn(Turn(new=batch, room=room, total=sum(room.values()),
                              look=False)).added

    def turn(self, turn: Turn) -> TurnResult:
        """Store the outcomes, claim queued records and add new tasks in one transaction
        (see `Turn`); none of a paused task type is claimed or started. A record stored
        before under an idempotency key is read afterwards."""
        action = "store the task" if turn.new else "store and claim tasks"
        readings: list[PausedNames] = []  # what a shared database's claim read of pauses

        def narrow_to_cluster(conn: sa.Connection, room: Mapping[str, int], total: int
                              ) -> tuple[dict[str, int], int]:
            room, total, paused = self._narrow_to_cluster(conn, room, total)
            readings.append(paused)
            return room, total

        def work(conn: sa.Connection) -> tuple[TurnResult, list[int]]:
            # On SQLite the pauses are this server's own, read under the write lock.
            narrow = narrow_to_cluster if self.is_shared else self._pauses.leave_out()
            result, earlier = run_turn(conn, self._hot, turn, self.server_id, utcnow(),
                                       narrow=narrow)
            if self.is_shared and (result.queued
                                   or len(result.started) < len(turn.finished)):
                # Work was queued, or slots freed here that this turn did not take again:
                # wake the others. (Had it taken them all, waking them would only cost
                # them an empty claim.)
                cluster.notify(conn)
            return result, earlier

        result, earlier = self.database.hot_write(action, work)
        if readings:
            result = dataclasses.replace(result, paused=readings[-1])
        if earlier:
            stored = {task_id: self.get(task_id) for task_id in earlier}
            added = [stored.get(record.id) or record for record in result.added]
            result = dataclasses.replace(result, added=added)
        return result

    def _narrow_to_cluster(self, conn: sa.Connection, room: Mapping[str, int],
                           total: int) -> tuple[dict[str, int], int, PausedNames]:
        cluster.lock_claims(conn)
        as_of = time.monotonic()  # before the reading of the pauses (see `PausedNames`)
        if self._limits is None:
            names = read_names(conn)
            return ({name: slots for name, slots in room.items() if name not in names},
                    total, PausedNames(names, as_of))
        room, total, names = cluster.cluster_room(conn, room, total, self._limits,
                                                  self.server_id, self._lease_s)
        return room, total, PausedNames(names, as_of)

    def release(self, records: Sequence[TaskRecord]) -> None:
        """Queue again records claimed here that never started, their attempt not
        counted."""
        if records:
            def work(conn: sa.Connection) -> None:
                transitions.release_unstarted(conn, self._hot, records, self.server_id)
                if self.is_shared:
                    cluster.notify(conn)

            self.database.hot_write("queue unstarted tasks again", work)

    def claim(self, room: Mapping[str, int], total: int,
              finished: Sequence[Outcome] = (), *, suspect: bool = False) -> list[TaskRecord]:
        """Store `finished`, then mark up to `total` of the oldest queued records as running
        here, at most `room[name]` of each name and none of a name not in `room` (with
        `suspect`, first one of an interrupted run, which is else left alone): one
        transaction. For callers that keep no records of their runs (the dispatcher's turns
        carry them: see `turn`)."""
        pairs = self._with_records(finished)
        return self.turn(Turn(finished=pairs, room=room, total=total,
                              suspect=suspect)).started

    def finish(self, outcomes: Sequence[Outcome]) -> None:
        """Store outcomes; one whose record is no longer running that attempt here is dropped
        and logged."""
        if outcomes:
            self.turn(Turn(finished=self._with_records(outcomes), look=False))

    def _with_records(self, outcomes: Sequence[Outcome]) -> list[tuple[Outcome, TaskRecord]]:
        """Each outcome with its record as running here now; one not running here is
        dropped and logged."""
        if not outcomes:
            return []
        with self.database.read("read running tasks") as conn:
            held = reads.running_here(conn, [outcome.task_id for outcome in outcomes],
                                      self.server_id)
        pairs = []
        for outcome in outcomes:
            record = held.get(outcome.task_id)
            if record is None or record.attempts != outcome.attempt:
                transitions.log_dropped(outcome)
                continue
            pairs.append((outcome, record))
        return pairs

    def requeue_running(self) -> list[TaskRecord]:
        """Count a run interrupted for every record left running by a server that is gone:
        queued again after a back-off, or FAILED once interrupted too often (see
        `RecoveryConfig`); return them as they are now.

        On SQLite the one-server lock makes every running record an orphan at start; on a
        shared database, those of servers whose heartbeat is older than the lease (and the
        emails they were sending).
        """
        with self.database.write("queue interrupted tasks again") as conn:
            if not self.is_shared:
                gone = tasks.c.owner != self.server_id
            else:
                gone = cluster.dead_owner(tasks.c.owner, self.server_id, self._lease_s)
            records = requeue_interrupted(conn, self._hot, gone, self._recovery, utcnow())
            if self.is_shared:
                cluster.release_dead_emails(conn, self.server_id, self._lease_s)
                if records:
                    cluster.notify(conn)
        return records

    def cancel(self, task_id: int, actor: Actor | None = None) -> TaskRecord | None:
        """Cancel a queued record at once (CANCELLED, finished now), or mark a running one as
        asked to stop; the record afterwards, None if there is none. With an `actor`, the
        audit entry commits with the change (none when nothing changed)."""
        with self.database.write("cancel the task") as conn:
            name, was_queued = transitions.cancel(conn, task_id, utcnow())
            if actor is not None and name is not None:
                insert_audit(conn, [audit_values(
                    actor, AuditAction.CANCEL, task_id, name,
                    "cancelled while queued" if was_queued else "asked to stop while running")])
        return self.get(task_id)

    def retry(self, task_id: int, actor: Actor | None = None) -> TaskRecord | None:
        """Queue a FAILED, CANCELLED or TIMED_OUT record again, keeping its history; the record
        afterwards (unchanged in any other status), None if there is none. With an `actor`,
        the audit entry commits with the change."""
        with self.database.write("retry the task") as conn:
            name = transitions.queue_again(conn, task_id, utcnow())
            if actor is not None and name is not None:
                insert_audit(conn, [audit_values(actor, AuditAction.RETRY, task_id, name)])
            if self.is_shared:
                cluster.notify(conn)
        return self.get(task_id)

    def bulk(self, action: BulkAction, selection: TaskSelection, actor: Actor | None = None,
             *, batch_size: int = bulk.BATCH_SIZE) -> Iterator[BulkBatch]:
        """Act on every record of `selection` a batch of `batch_size` at a time, each batch
        one transaction, yielded once committed; with an `actor`, one audit entry counts
        what has committed (see `store.bulk.run`)."""
        return bulk.run(self.database, action, selection, actor, batch_size=batch_size,
                        ignore_case_by_like=self.dialect == "sqlite")

    def bulk_preview(self, action: BulkAction, selection: TaskSelection) -> BulkCounts:
        """What `action` would find and change in `selection` now."""
        with self.database.read("count tasks") as conn:
            return bulk.preview(conn, action, selection,
                                ignore_case_by_like=self.dialect == "sqlite")

    def count(self, selection: TaskSelection, *, at_most: int | None = None) -> int:
        """How many records `selection` takes (counting no further than `at_most`)."""
        with self.database.read("count tasks") as conn:
            return bulk.count(conn, selection, at_most=at_most,
                              ignore_case_by_like=self.dialect == "sqlite")

    def fire(self, name: str, fire_at: datetime.datetime) -> bool:
        """Submit the firing `fire_at` of the periodic task `name` (params {}), unless some
        server already did: the task and its firing row commit together. True if stored."""
        exists = sa.select(firings.c.task_id).where(firings.c.schedule == name,
                                                    firings.c.fire_at == fire_at)
        try:
            with self.database.write("fire a periodic task") as conn:
                if conn.execute(exists).first() is not None:
                    return False
                stored, = transitions.insert_tasks(conn, [transitions.new_row(
                    name, "{}", utcnow())])
                conn.execute(firings.insert().values(schedule=name, fire_at=fire_at,
                                                     task_id=stored.id))
                if self.is_shared:
                    cluster.notify(conn)
        except StoreRejectedError:  # another server stored this firing in between
            return False
        return True

    def delete_finished(self, finished_before: datetime.datetime, *,
                        names: Sequence[str] | None = None,
                        except_names: Sequence[str] = (), limit: int = 500) -> int:
        """Delete up to `limit` records that finished before `finished_before` (of `names`
        when given, none of `except_names`), with their files and history; a record whose
        email is still to be sent is kept. Returns how many were deleted."""
        with self.database.write("delete old finished tasks") as conn:
            return transitions.delete_finished(conn, finished_before, names=names,
                                               except_names=except_names, limit=limit)

    def set_progress(self, task_id: int, attempt: int, percent: float,
                     message: str | None) -> bool:
        """Record a running task's progress; False if that attempt no longer runs here."""
        with self.database.write("record progress") as conn:
            return bool(conn.execute(
                tasks.update().where(tasks.c.id == task_id,
                                     tasks.c.status == TaskStatus.RUNNING.value,
                                     tasks.c.owner == self.server_id,
                                     tasks.c.attempts == attempt)
                .values(progress_percent=percent, progress_message=message)).rowcount)

    def is_reachable(self) -> bool:
        """True if a trivial query succeeds."""
        return self.database.is_reachable()

    def write_failure(self) -> StoreError | None:
        """Why the database takes no writes now (a full disk, ...), None while it does."""
        return self.database.write_failure()

    def close(self) -> None:
        """Leave the cluster, release connections and the one-server lock."""
        if self._joined:
            self._joined = False
            try:
                self._servers.leave()
            except Exception:  # the others will find it dead once its lease is over
                logger.warning("could not remove this server's row from deferred_servers")
        self.database.close()
