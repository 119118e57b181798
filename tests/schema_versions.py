"""Databases as older versions of deferred left them: the tables of schema version 1, as it
created them, brought up to an older version by the first upgrades."""

from __future__ import annotations

import sqlalchemy as sa

from deferred.store.schema import (
    UPGRADES,
    ensure_schema,
    schema_version,
    task_files,
    tasks,
)

# Named, not derived from today's tables: a column a later version adds must not be in them.
VERSION_1_COLUMNS = {
    tasks.name: ("id", "name", "params", "status", "attempts", "result", "error_type",
                 "error_message", "error_traceback", "owner", "email", "created_at",
                 "started_at", "finished_at"),
    task_files.name: ("id", "task_id", "position", "token", "name", "content_type",
                      "size_bytes", "data"),
    schema_version.name: ("version",),
}
VERSION_1_INDEXES = ("ix_deferred_tasks_status_id", "ix_deferred_tasks_name_id",
                     "ix_deferred_task_files_task_id")


def create_version_1(conn: sa.Connection) -> None:
    """The tables of schema version 1 (tasks, their files, the version row) in an empty
    database."""
    old = sa.MetaData()
    for table in (tasks, task_files, schema_version):
        copy = sa.Table(table.name, old, *(
            sa.Column(column.name, column.type,
                      *[sa.ForeignKey(key.target_fullname, ondelete=key.ondelete)
                        for key in column.foreign_keys],
                      primary_key=column.primary_key, nullable=column.nullable,
                      unique=column.unique)
            for column in table.columns if column.name in VERSION_1_COLUMNS[table.name]))
        for index in table.indexes:
            if index.name in VERSION_1_INDEXES:
                sa.Index(index.name, *(copy.c[column.name] for column in index.columns))
    old.create_all(conn)
    conn.execute(schema_version.insert().values(version=1))


def create_older_database(url: str, version: int) -> None:
    """Leave the empty database at `url` at schema `version` (1 or more, below the current
    one), as the deferred of that version would have: version 1's tables, then its upgrades."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            create_version_1(conn)
        assert ensure_schema(engine, upgrades=UPGRADES[:version - 1]) == version
    finally:
        engine.dispose()


def stored_version(url: str) -> list[int]:
    """The rows of the schema version table (one, when all is well)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(schema_version.c.version)).scalars())
    finally:
        engine.dispose()
