"""The PostgreSQL of the pg_drain benchmark: a durable PostgreSQL 15 started for the run (as
the tests start theirs), and fresh databases of queued deferred `noop` records."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INSERT_BATCH = 5_000
MEMORY_FILESYSTEMS = {"tmpfs", "ramfs"}


@contextlib.contextmanager
def postgres() -> Iterator[Any]:
    """A durable PostgreSQL 15 (the tests' `PostgresServer`, fsync on) for the run."""
    tests_dir = str(ROOT / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from pg_server import PostgresServer  # tests/ on sys.path: it imports `polling` too

    server = PostgresServer(durable=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def durability(pg: Any) -> dict[str, str]:
    """The durability settings as the running server reports them."""
    import psycopg

    with psycopg.connect(pg.conninfo()) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("fsync", "synchronous_commit", "wal_sync_method", "full_page_writes")}


def fresh_database(pg: Any, rows: int) -> str:
    """A new database with the schema (created as a server creates it) and `rows` queued
    `noop` records; analyzed and checkpointed, so every case starts alike. Returns its URL."""
    from deferred.config import DbConfig
    from deferred.store import SqlTaskStore
    from deferred.store.engine import make_engine
    from deferred.store.schema import tasks

    url = pg.create_database()
    SqlTaskStore(DbConfig(url=url)).close()
    fill(url, rows)
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"ANALYZE {tasks.name}")
            conn.exec_driver_sql("CHECKPOINT")
    finally:
        engine.dispose()
    return url


def fill(url: str, rows: int) -> None:
    """Store `rows` queued `noop` records in bulk (setup only, not measured)."""
    from deferred.jsontext import encode_json
    from deferred.records import TaskStatus, utcnow
    from deferred.store.engine import make_engine
    from deferred.store.schema import tasks

    engine = make_engine(url)
    now = utcnow()
    row = {"name": "noop", "params": encode_json({}), "status": TaskStatus.QUEUED.value,
           "attempts": 0, "email": None, "created_at": now}
    if "sort_key" in tasks.c:  # schema 4: the claim order, which `SqlTaskStore.add` sets so
        row["sort_key"] = now.timestamp()
    try:
        for first in range(0, rows, INSERT_BATCH):
            with engine.begin() as conn:
                conn.execute(tasks.insert(), [dict(row) for _ in range(min(INSERT_BATCH,
                                                                           rows - first))])
    finally:
        engine.dispose()
