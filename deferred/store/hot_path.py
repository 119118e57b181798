"""The turn's busiest operations: SQLAlchemy statements, and on SQLite SQL text on the
driver's cursor.

A turn of 16 claims and 16 finishes spent more Python in SQLAlchemy's per-row parameter
processing (a dict per row, a type processor per datetime) than SQLite spent running the
statements. These few run instead as prepared SQL text on the DBAPI cursor of SQLAlchemy's
own connection, inside its transaction, with values in the column formats SQLAlchemy itself
stores (so every other query reads them back as it always did). A driver error is raised as
SQLAlchemy's, so the store's error handling sees no difference.

PostgreSQL runs the same operations through `CoreHotPath`'s SQLAlchemy statements, and
`statements` holds the rest of the turn's for both.
"""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc

from ..records import TaskStatus
from .schema import task_attempts, tasks
from .rows import CLAIMED_COLUMNS
from .statements import HotStatements

QUEUED, RUNNING = TaskStatus.QUEUED.value, TaskStatus.RUNNING.value
_UTC = datetime.timezone.utc

_WRITE_FINAL = (f"UPDATE {tasks.name} SET status = ?, result = ?, error_type = ?, "
                "error_message = ?, error_traceback = ?, started_at = coalesce(?, started_at), "
                f"finished_at = ? WHERE id = ? AND status = '{RUNNING}' AND owner = ? "
                "AND attempts = ?")
_INSERT_ATTEMPT = (f"INSERT INTO {task_attempts.name} (task_id, number, status, owner, "
                   "started_at, finished_at, error_type, error_message) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_CLAIMED = ", ".join(column.name for column in CLAIMED_COLUMNS)
_CLAIM_OLDEST = (f"UPDATE {tasks.name} SET status = '{RUNNING}', owner = ?, started_at = ?, "
                 "attempts = attempts + 1, progress_percent = NULL, progress_message = NULL "
                 f"WHERE id IN (SELECT id FROM {tasks.name} WHERE status = '{QUEUED}' "
                 "AND name IN ({names}) AND (run_at IS NULL OR run_at <= ?) "
                 "AND interruptions = 0 "
                 f"ORDER BY sort_key, id LIMIT ?) AND status = '{QUEUED}' RETURNING {_CLAIMED}")
_NEW_COLUMNS = ("name", "params", "email", "created_at", "status", "attempts", "owner",
                "started_at", "run_at", "priority", "idempotency_key", "sort_key",
                "cancel_requested", "timeout_s", "parent_id", "chain_next")
_INSERT_NEW = (f"INSERT INTO {tasks.name} ({', '.join(_NEW_COLUMNS)}) "
               f"VALUES ({', '.join('?' for _ in _NEW_COLUMNS)}) RETURNING id")
_DATETIME_COLUMNS = frozenset({"created_at", "started_at", "run_at"})


def sqlite_time(value: datetime.datetime | None) -> str | None:
    """An aware datetime as SQLAlchemy stores it in SQLite: naive UTC text, microseconds."""
    if value is None:
        return None
    if value.tzinfo is not _UTC:
        value = value.astimezone(_UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


class CoreHotPath:
    """The turn's operations as SQLAlchemy statements (any database)."""

    def __init__(self, hot: HotStatements) -> None:
        self.statements = hot

    def write_final(self, conn: sa.Connection, values: list[dict[str, Any]]) -> int:
        """The guarded UPDATE of final outcomes (`_outcome_values` rows); rows written."""
        return int(conn.execute(self.statements.write_outcome, values).rowcount)

    def insert_attempts(self, conn: sa.Connection, values: list[dict[str, Any]]) -> None:
        """History rows (`_attempt_values`)."""
        conn.execute(self.statements.insert_attempt, values)

    def claim_oldest(self, conn: sa.Connection, names: Sequence[str], now: datetime.datetime,
                     owner: str, limit: int) -> list[Any]:
        """QUEUED → RUNNING: the `limit` oldest due rows of `names`; their claimed columns."""
        return list(conn.execute(self.statements.claim_oldest, {
            "names": list(names), "now": now, "owner": owner, "limit": limit}).all())

    def insert_new(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> list[int]:
        """New task rows; their ids, in order."""
        return list(conn.execute(self.statements.insert_ids, rows).scalars())


class SqliteHotPath(CoreHotPath):
    """`CoreHotPath` with the busiest operations as SQL text on SQLite's cursor."""

    def __init__(self, hot: HotStatements) -> None:
        super().__init__(hot)
        self._claim_sql: dict[int, str] = {}

    def write_final(self, conn: sa.Connection, values: list[dict[str, Any]]) -> int:
        rows = [(v["b_status"], v["b_result"], v["b_error_type"], v["b_error_message"],
                 v["b_error_traceback"], sqlite_time(v["b_started_at"]),
                 sqlite_time(v["b_finished_at"]), v["b_id"], v["b_owner"], v["b_attempt"])
                for v in values]
        return _run(conn, _WRITE_FINAL, rows, many=True).rowcount

    def insert_attempts(self, conn: sa.Connection, values: list[dict[str, Any]]) -> None:
        rows = [(v["task_id"], v["number"], v["status"], v["owner"],
                 sqlite_time(v["started_at"]), sqlite_time(v["finished_at"]),
                 v["error_type"], v["error_message"]) for v in values]
        _run(conn, _INSERT_ATTEMPT, rows, many=True)

    def claim_oldest(self, conn: sa.Connection, names: Sequence[str], now: datetime.datetime,
                     owner: str, limit: int) -> list[Any]:
        sql = self._claim_sql.get(len(names))
        if sql is None:
            sql = self._claim_sql[len(names)] = _CLAIM_OLDEST.format(
                names=", ".join("?" for _ in names))
        stamp = sqlite_time(now)
        return _run(conn, sql, (owner, stamp, *names, stamp, limit)).fetchall()

    def insert_new(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> list[int]:
        cursor = _cursor(conn)
        ids = []
        for row in rows:
            values = tuple(sqlite_time(row[column]) if column in _DATETIME_COLUMNS
                           else row[column] for column in _NEW_COLUMNS)
            ids.append(_execute(cursor, _INSERT_NEW, values).fetchone()[0])
        return ids


def hot_path(dialect: str, hot: HotStatements) -> CoreHotPath:
    """The hot path for `dialect`."""
    return SqliteHotPath(hot) if dialect == "sqlite" else CoreHotPath(hot)


def _cursor(conn: sa.Connection) -> sqlite3.Cursor:
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


def _run(conn: sa.Connection, sql: str, params: Iterable[Any] | Sequence[tuple[Any, ...]], *,
         many: bool = False) -> sqlite3.Cursor:
    return _execute(_cursor(conn), sql, params, many=many)


def _execute(cursor: sqlite3.Cursor, sql: str, params: Any, *, many: bool = False
             ) -> sqlite3.Cursor:
    try:
        return cursor.executemany(sql, params) if many else cursor.execute(sql, params)
    except sqlite3.Error as exc:  # as SQLAlchemy would have raised it
        raise sqlalchemy.exc.DBAPIError.instance(sql, None, exc, sqlite3.Error) from exc
