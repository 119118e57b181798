"""What one dispatcher turn costs in-process, for pg_drain: one `SqlTaskStore`,
`CLAIM_ROWS` queued records, timed `claim({"noop": 8}, 8, finished=<the 8 claimed by the
previous turn>)`, one transaction that stores 8 outcomes and claims 8 records, as the
dispatcher does with a pool of 8. On PostgreSQL with `limits=None` (the advisory claim lock is
still taken, no RUNNING count) and with cluster limits (lock + count); on a SQLite file (WAL,
synchronous=FULL) for reference; beside each, a one-row UPDATE and its commit (the floor)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from .pg_setup import fill, fresh_database
from .sides import median, percentile, run_dir

WORKERS = 8
CLAIM_ROWS = 10_000
CLAIM_WARMUP = 20
CLAIM_TURNS = 400
COMMIT_FLOOR_TURNS = 300


def claim_turns(url: str, limits: Any, turns: int = CLAIM_TURNS) -> list[float]:
    """Milliseconds of `turns` timed dispatcher turns (after `CLAIM_WARMUP` untimed ones) on a
    new store: store the previous turn's 8 outcomes and claim 8, one transaction."""
    from deferred.config import DbConfig
    from deferred.records import Outcome, TaskStatus, utcnow
    from deferred.store import SqlTaskStore

    store = SqlTaskStore(DbConfig(url=url), limits=limits)
    times: list[float] = []
    pending: list[Any] = []
    try:
        for turn in range(CLAIM_WARMUP + turns):
            began = time.perf_counter()
            records = store.claim({"noop": WORKERS}, WORKERS, pending)
            elapsed = time.perf_counter() - began
            if len(records) != WORKERS:
                raise RuntimeError(f"turn {turn} claimed {len(records)} records, not {WORKERS}")
            if turn >= CLAIM_WARMUP:
                times.append(elapsed * 1000)
            now = utcnow()
            pending = [Outcome(record.id, record.attempts, TaskStatus.SUCCEEDED,
                               result_json="null", started_at=record.started_at,
                               finished_at=now) for record in records]
        store.finish(pending)
    finally:
        store.close()
    return times


def summary(times: list[float]) -> dict[str, Any]:
    return {"median_ms": median(times), "p95_ms": percentile(times, 0.95), "turns": len(times)}


def commit_floor(url: str) -> dict[str, Any]:
    """The cheapest durable write through the same engine: one one-row UPDATE and its commit."""
    from deferred.store.engine import make_engine

    engine = make_engine(url)
    times = []
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE bench_floor (id integer PRIMARY KEY, n integer)")
            conn.exec_driver_sql("INSERT INTO bench_floor VALUES (1, 0)")
        update = sa.text("UPDATE bench_floor SET n = n + 1 WHERE id = 1")
        for turn in range(CLAIM_WARMUP + COMMIT_FLOOR_TURNS):
            began = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(update)
            if turn >= CLAIM_WARMUP:
                times.append((time.perf_counter() - began) * 1000)
    finally:
        engine.dispose()
    return summary(times)


def claim_costs(pg: Any) -> dict[str, dict[str, Any]]:
    from deferred.config import DbConfig, LimitsConfig
    from deferred.store import SqlTaskStore

    limits = LimitsConfig(global_limit=24, names={"noop": 12}, workers=WORKERS)  # pg_drain's
    # Each variant on its own database of CLAIM_ROWS queued records; rounds in the order
    # A B B A, so that a drift of the machine's speed during the run weighs on both alike.
    variants = {"postgresql_no_limits": (fresh_database(pg, CLAIM_ROWS), None),
                "postgresql_limits": (fresh_database(pg, CLAIM_ROWS), limits)}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name in ("postgresql_no_limits", "postgresql_limits", "postgresql_limits",
                 "postgresql_no_limits"):
        times[name] += claim_turns(*variants[name], turns=CLAIM_TURNS // 2)
    results = {name: summary(values) for name, values in times.items()}
    results["postgresql_commit_floor"] = commit_floor(pg.create_database())
    with run_dir("pg-drain-sqlite") as directory:
        url = f"sqlite+pysqlite:///{directory / 'deferred.db'}"
        SqlTaskStore(DbConfig(url=url)).close()
        fill(url, CLAIM_ROWS)
        results["sqlite"] = summary(claim_turns(url, None))
        results["sqlite_commit_floor"] = commit_floor(url)
    return results
