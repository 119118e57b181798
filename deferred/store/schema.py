"""The tables, declared once, and the schema version: create, upgrade in order, or refuse."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from ..errors import DatabaseVersionError
from .schema_lock import schema_lock
from .types import UtcDateTime

logger = logging.getLogger(__name__)

metadata = sa.MetaData()


def scheduling_columns() -> list[sa.Column[object]]:
    """The columns of schema version 4: delays, priorities, cancel requests, idempotency."""
    return [
        sa.Column("run_at", UtcDateTime),  # not before (a delayed task)
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        # Claims go in this order: when it may run, in epoch seconds, minus a head start of
        # PRIORITY_STEP_S per priority point (see SqlTaskStore.add).
        sa.Column("sort_key", sa.Float, nullable=False, server_default="0"),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("idempotency_key", sa.String(200)),
    ]


def timeout_columns() -> list[sa.Column[object]]:
    """The columns of schema version 6: a submit's own time limit."""
    return [sa.Column("timeout_s", sa.Float)]


def chain_columns() -> list[sa.Column[object]]:
    """The columns of schema version 8: follow-up tasks and chains."""
    return [sa.Column("parent_id", sa.Integer),  # the task that submitted or preceded it
            sa.Column("chain_next", sa.Text)]  # JSON: the steps to submit once it succeeds


def interruption_columns() -> list[sa.Column[object]]:
    """The columns of schema version 12: how many runs a server's stop or death interrupted
    (a task that kills its server ends FAILED past a limit)."""
    return [sa.Column("interruptions", sa.Integer, nullable=False, server_default="0")]


def progress_columns() -> list[sa.Column[object]]:
    """The columns of schema version 5: what a running task last said of its progress."""
    return [sa.Column("progress_percent", sa.Float),
            sa.Column("progress_message", sa.Text)]

tasks = sa.Table(
    "deferred_tasks", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("result", sa.Text),  # JSON
    sa.Column("error_type", sa.String(200)),
    sa.Column("error_message", sa.Text),
    sa.Column("error_traceback", sa.Text),
    sa.Column("owner", sa.String(64)),
    sa.Column("email", sa.String(254)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    *scheduling_columns(),
    *progress_columns(),
    *timeout_columns(),
    *chain_columns(),
    *interruption_columns(),
    sa.Index("ix_deferred_tasks_status_id", "status", "id"),
    sa.Index("ix_deferred_tasks_name_id", "name", "id"),
    sa.Index("ix_deferred_tasks_status_sort", "status", "sort_key", "id"),
    sa.Index("ix_deferred_tasks_idempotency", "idempotency_key", unique=True),
    sa.Index("ix_deferred_tasks_parent", "parent_id"),
    sa.Index("ix_deferred_tasks_finished", "finished_at"),  # the stats' roll-up, retention
    # Only the rows of interrupted runs: the claim of a suspect finds them at once.
    sa.Index("ix_deferred_tasks_interrupted", "status", "sort_key", "id",
             sqlite_where=sa.text("interruptions > 0"),
             postgresql_where=sa.text("interruptions > 0")),
    sqlite_autoincrement=True,  # ids are never reused, even after deletes
)

task_files = sa.Table(
    "deferred_task_files", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("deferred_tasks.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

outbox = sa.Table(
    "deferred_outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("deferred_tasks.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("recipient", sa.String(254), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("owner", sa.String(64)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
    sa.Index("ix_deferred_outbox_status_next", "status", "next_attempt_at"),
)

task_attempts = sa.Table(
    "deferred_task_attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("deferred_tasks.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # how it ended (QUEUED: retried)
    sa.Column("owner", sa.String(64)),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("error_type", sa.String(200)),
    sa.Column("error_message", sa.Text),
)

firings = sa.Table(
    "deferred_firings", metadata,
    sa.Column("schedule", sa.String(100), primary_key=True),  # the periodic task's name
    sa.Column("fire_at", UtcDateTime, primary_key=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("deferred_tasks.id", ondelete="SET NULL")),
)

def server_info_columns() -> list[sa.Column[object]]:
    """The columns of schema version 13: what the servers page shows of a server."""
    return [sa.Column("version", sa.String(32), nullable=False, server_default=""),
            sa.Column("pool_size", sa.Integer, nullable=False, server_default="0"),
            sa.Column("state", sa.String(16), nullable=False, server_default="running")]


servers = sa.Table(
    "deferred_servers", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
    *server_info_columns(),
)

paused_task_types = sa.Table(
    "deferred_paused_task_types", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("paused_at", UtcDateTime, nullable=False),
    sa.Column("paused_by", sa.String(100), nullable=False, server_default=""),
)

# The dashboard's statistics, rolled up from finished task rows by minute (span 1) and by hour
# (span 60); minutes are whole minutes since the Unix epoch, so buckets are integer arithmetic
# on both databases.
task_stats = sa.Table(
    "deferred_task_stats", metadata,
    sa.Column("span_min", sa.Integer, primary_key=True),
    sa.Column("at_min", sa.Integer, primary_key=True),  # the bucket's first minute
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("succeeded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancelled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("timed_out", sa.Integer, nullable=False, server_default="0"),
    sa.Column("runs", sa.Integer, nullable=False, server_default="0"),  # with a run time
    sa.Column("run_total_s", sa.Float, nullable=False, server_default="0"),
    sa.Column("run_max_s", sa.Float, nullable=False, server_default="0"),
    sa.Column("run_histogram", sa.Text, nullable=False, server_default="{}"),  # JSON
    sa.Column("waits", sa.Integer, nullable=False, server_default="0"),  # with a start
    sa.Column("wait_total_s", sa.Float, nullable=False, server_default="0"),
    sa.Column("last_failed_id", sa.Integer),  # the newest FAILED task of the bucket
)

# How deep the queue was, sampled once a minute per task type by a running server.
queue_samples = sa.Table(
    "deferred_queue_samples", metadata,
    sa.Column("at_min", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("queued", sa.Integer, nullable=False),  # may start now
    sa.Column("delayed", sa.Integer, nullable=False),  # waits for its start time
    sa.Column("running", sa.Integer, nullable=False),
)

# Up to which minute (exclusive) each span has been rolled up.
stats_marks = sa.Table(
    "deferred_stats_marks", metadata,
    sa.Column("span_min", sa.Integer, primary_key=True),
    sa.Column("rolled_until_min", sa.Integer, nullable=False),
)

def session_columns() -> list[sa.Column[object]]:
    """The columns of schema version 11: what a session was opened with (`user:NAME` or
    `token:HASH`), checked again on every request, so removing it ends the session."""
    return [sa.Column("credential", sa.String(120), nullable=False, server_default="")]


audit_log = sa.Table(
    "deferred_audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("task_id", sa.Integer),  # no foreign key: the entry outlives the task
    sa.Column("task_name", sa.String(100)),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sqlite_autoincrement=True,
)

sessions = sa.Table(
    "deferred_sessions", metadata,
    sa.Column("token_hash", sa.String(80), primary_key=True),  # the cookie is never stored
    sa.Column("principal", sa.String(100), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    *session_columns(),
)

api_tokens = sa.Table(
    "deferred_api_tokens", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(80), nullable=False, unique=True),  # never the token
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
)

schema_version = sa.Table(
    "deferred_schema_version", metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

Upgrade = Callable[[sa.Connection], None]



def _add_outbox(conn: sa.Connection) -> None:
    """Version 2: the outbox of result emails."""
    outbox.create(conn, checkfirst=True)


def _add_servers(conn: sa.Connection) -> None:
    """Version 3: the servers sharing the database, with their heartbeats."""
    _create_without(conn, servers, server_info_columns())  # added by version 13


def _create_without(conn: sa.Connection, table: sa.Table,
                    later: Sequence[sa.Column[object]]) -> None:
    """Create `table` as an older version had it: without the columns a later one adds."""
    names = {column.name for column in later}
    sa.Table(table.name, sa.MetaData(), *(
        sa.Column(column.name, column.type, primary_key=column.primary_key,
                  nullable=column.nullable, index=column.index)
        for column in table.columns if column.name not in names)
    ).create(conn, checkfirst=True)


def _add_columns(conn: sa.Connection, columns: Sequence[sa.Column[object]],
                 table: sa.Table = tasks) -> None:
    for column in columns:
        definition = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {definition}"))


def _add_scheduling(conn: sa.Connection) -> None:
    """Version 4: delays, priorities, cancel requests and idempotency keys. Rows of older
    versions keep sort key 0: they are claimed first, in id order."""
    _add_columns(conn, scheduling_columns())
    for index in tasks.indexes:
        if index.name in ("ix_deferred_tasks_status_sort", "ix_deferred_tasks_idempotency"):
            index.create(conn)


def _add_attempts_and_progress(conn: sa.Connection) -> None:
    """Version 5: the history of attempts, and progress reports."""
    _add_columns(conn, progress_columns())
    task_attempts.create(conn, checkfirst=True)


def _add_timeouts(conn: sa.Connection) -> None:
    """Version 6: a submit's own time limit."""
    _add_columns(conn, timeout_columns())


def _add_firings(conn: sa.Connection) -> None:
    """Version 7: one row per firing of a periodic task."""
    firings.create(conn, checkfirst=True)


def _add_chains(conn: sa.Connection) -> None:
    """Version 8: follow-up tasks and chains."""
    _add_columns(conn, chain_columns())
    next(index for index in tasks.indexes if index.name == "ix_deferred_tasks_parent"
         ).create(conn)


def _add_audit_and_sessions(conn: sa.Connection) -> None:
    """Version 9: the audit log and the UI's login sessions."""
    audit_log.create(conn, checkfirst=True)
    _create_without(conn, sessions, session_columns())  # added by version 11


def _add_api_tokens(conn: sa.Connection) -> None:
    """Version 10: API tokens an admin made over the API or the UI."""
    api_tokens.create(conn, checkfirst=True)


def _add_session_credentials(conn: sa.Connection) -> None:
    """Version 11: what each session was opened with. Older sessions have none, so they no
    longer count: their users log in again."""
    _add_columns(conn, session_columns(), sessions)


def _add_interruptions(conn: sa.Connection) -> None:
    """Version 12: the count of interrupted runs. Rows of older versions start at 0."""
    _add_columns(conn, interruption_columns())
    next(index for index in tasks.indexes if index.name == "ix_deferred_tasks_interrupted"
         ).create(conn)


def _add_dashboard(conn: sa.Connection) -> None:
    """Version 13: what the operations dashboard shows: server details, paused task types,
    the statistics' roll-up (from tasks finished before the upgrade too, on its first
    pass) and queue samples."""
    _add_columns(conn, server_info_columns(), servers)
    next(index for index in tasks.indexes if index.name == "ix_deferred_tasks_finished"
         ).create(conn)
    for table in (paused_task_types, task_stats, queue_samples, stats_marks):
        table.create(conn, checkfirst=True)


UPGRADES: Sequence[Upgrade] = (_add_outbox, _add_servers, _add_scheduling,
                               _add_attempts_and_progress, _add_timeouts, _add_firings,
                               _add_chains, _add_audit_and_sessions, _add_api_tokens,
                               _add_session_credentials, _add_interruptions, _add_dashboard)
"""`UPGRADES[n]` takes a database from version n + 1 to n + 2, in one transaction."""

SCHEMA_VERSION = 1 + len(UPGRADES)


def ensure_schema(engine: sa.Engine, upgrades: Sequence[Upgrade] = UPGRADES) -> int:
    """Create the tables in an empty database, or upgrade an older one in order.

    On PostgreSQL under the schema lock (`schema_lock`): servers started together wait for
    the one that creates or upgrades the tables, then find its version and do nothing.
    Returns the version. Raises `DatabaseVersionError` for a database newer than this code,
    `StoreUnavailableError` when another server kept the lock too long.
    """
    latest = 1 + len(upgrades)
    with schema_lock(engine) as conn:
        with conn.begin():
            if not sa.inspect(conn).has_table(schema_version.name):
                metadata.create_all(conn)
                conn.execute(schema_version.insert().values(version=latest))
                logger.info("created the database schema, version %d", latest)
                return latest
        version = _read_version(conn)
        if version > latest:
            raise DatabaseVersionError(
                f"the database is at schema version {version}, newer than version {latest} "
                "that this deferred knows; upgrade deferred to use it")
        while version < latest:
            with conn.begin():
                current = conn.execute(sa.select(schema_version.c.version)).scalar_one()
                if current != version:  # another process upgraded meanwhile (SQLite)
                    version = current
                    continue
                upgrades[version - 1](conn)
                conn.execute(schema_version.update().values(version=version + 1))
            version += 1
            logger.info("upgraded the database schema to version %d", version)
    return version


def _read_version(conn: sa.Connection) -> int:
    with conn.begin():
        return int(conn.execute(sa.select(schema_version.c.version)).scalar_one())
