"""`SqlRecordReader`: the reads of task records the HTTP app and the server make, each its own
read transaction (see `reads`): one record, lists, counts, files, the dashboard's view."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from ..records import QueueDepth, StoredFile, TaskRecord, TaskStatus, utcnow
from ..stats import StatsRange, StatsView
from . import reads
from .database import Database
from .stats import SqlStats


class SqlRecordReader:
    """The `RecordReader` half of `SqlTaskStore`, over its `database` and `_stats`."""

    database: Database
    _stats: SqlStats

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.database.dialect

    def get(self, task_id: int) -> TaskRecord | None:
        """The record with its files, history and email delivery, or None."""
        with self.database.read("read the task") as conn:
            return reads.get_record(conn, task_id)

    def pending_counts(self) -> dict[tuple[str, TaskStatus], int]:
        """How many records are queued and running, per task name."""
        with self.database.read("count tasks") as conn:
            return reads.pending_counts(conn)

    def queue_depths(self) -> dict[str, QueueDepth]:
        """Per task name, how many records are queued, delayed and running now."""
        with self.database.read("count tasks") as conn:
            return reads.queue_depths(conn, utcnow())

    def stats_view(self, stats_range: StatsRange, name: str | None = None) -> StatsView:
        """The dashboard's statistics over `stats_range` up to now, of task `name` or all."""
        return self._stats.view(stats_range, name, utcnow())

    def read_file(self, token: str) -> tuple[StoredFile, bytes] | None:
        """A result file and its content by its token, or None."""
        with self.database.read("read the result file") as conn:
            return reads.read_file(conn, token)

    def next_run_at(self) -> datetime.datetime | None:
        """When the earliest delayed queued record becomes due, if any is not yet."""
        with self.database.read("read the delayed tasks") as conn:
            return reads.next_run_at(conn, utcnow())

    def last_firing(self, name: str) -> datetime.datetime | None:
        """The time of the latest stored firing of the periodic task `name`."""
        with self.database.read("read the firings") as conn:
            return reads.last_firing(conn, name)

    def cancel_requests(self, task_ids: Sequence[int]) -> list[int]:
        """Which of these records, running here, were asked to stop."""
        with self.database.read("read cancel requests") as conn:
            return reads.cancel_requests(conn, task_ids)

    def list(self, *, status: TaskStatus | None = None, name: str | None = None,
             limit: int = 50, before_id: int | None = None, finished: bool = False,
             text: str | None = None) -> list[TaskRecord]:
        """Records newest first, filtered, older than `before_id` when given. `finished`
        keeps only records in a terminal status; `text` keeps those whose id, name, params,
        result or error message contain it (any case)."""
        query = reads.list_query(status=status, name=name, limit=limit, before_id=before_id,
                                 finished=finished, text=text,
                                 ignore_case_by_like=self.dialect == "sqlite")
        with self.database.read("list tasks") as conn:
            return reads.list_records(conn, query)
