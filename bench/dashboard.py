"""The dashboard over 1,000,000 finished tasks: how long the pages with charts take, and how
long the first roll-up of those tasks takes.

A SQLite file gets `RECORDS` finished tasks spread over the last 7 days (six task names;
of 100, 90 succeed, 5 fail, 3 are cancelled and 2 time out; run times from 5 ms to 20 s)
and `RECENT` more in the last three minutes (the rows a page counts itself, since the roll-up
lags), plus queued and delayed ones, in bulk transactions, the way an upgraded database holds
them before any roll-up. An in-process `deferred.Server` then serves it on a real port; its
`deferred-stats` thread rolls the tasks up, timed until every span has caught up. Then one
keep-alive connection sends each GET `WARMUP` times and `REQUESTS` times timed, from writing
the request to reading the whole body. Goal: each page with charts under 100 ms.
"""

from __future__ import annotations

import datetime
import http.client
import random
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import deferred
from deferred.tasks.registry import TaskRegistry

from .sides import median, percentile, run_dir

RECORDS = 1_000_000
RECENT = 5_000
PENDING = 2_000
BATCH = 20_000
NAMES = ("send_invoice", "resize_image", "sync_crm", "make_report", "send_email", "cleanup")
WARMUP = 3
REQUESTS = 30
GOAL_MS = 100.0
ROLL_UP_TIMEOUT_S = 900
STATUSES = (("SUCCEEDED", 90), ("FAILED", 5), ("CANCELLED", 3), ("TIMED_OUT", 2))


def _row(rng: random.Random, finished: datetime.datetime) -> dict[str, Any]:
    status = rng.choices([status for status, _ in STATUSES],
                         [weight for _, weight in STATUSES])[0]
    run_s = min(20.0, rng.lognormvariate(-2.0, 1.5)) + 0.005
    started = finished - datetime.timedelta(seconds=run_s)
    created = started - datetime.timedelta(seconds=rng.expovariate(2.0))
    failed = status == "FAILED"
    return {"name": rng.choice(NAMES), "params": "{}", "status": status, "attempts": 1,
            "created_at": created, "started_at": started, "finished_at": finished,
            "error_type": "RuntimeError" if failed else None,
            "error_message": "upstream answered 503" if failed else None}


def fill_database(url: str, records: int, recent: int) -> None:
    """The schema as a server makes it, then the finished, queued and delayed rows in bulk."""
    from deferred.config import DbConfig
    from deferred.records import utcnow
    from deferred.store import SqlTaskStore
    from deferred.store.engine import make_engine
    from deferred.store.schema import tasks

    SqlTaskStore(DbConfig(url=url)).close()
    rng = random.Random(20261207)
    now = utcnow()
    week_s, recent_s = 7 * 86_400, 180
    moments = sorted([now - datetime.timedelta(seconds=rng.uniform(recent_s, week_s))
                      for _ in range(records)]
                     + [now - datetime.timedelta(seconds=rng.uniform(0, recent_s))
                        for _ in range(recent)])
    engine = make_engine(url)
    try:
        for first in range(0, len(moments), BATCH):
            rows = [_row(rng, moment) for moment in moments[first:first + BATCH]]
            with engine.begin() as conn:
                conn.execute(tasks.insert(), rows)
        later = now + datetime.timedelta(hours=1)
        pending = [{"name": NAMES[i % len(NAMES)], "params": "{}", "status": "QUEUED",
                    "attempts": 0, "created_at": now, "sort_key": 4e9 + i,
                    "run_at": later if i % 2 else None} for i in range(PENDING)]
        with engine.begin() as conn:
            conn.execute(tasks.insert(), pending)
    finally:
        engine.dispose()


def _registry() -> TaskRegistry:
    """The stored task names; the queued tasks run as no-ops when the server starts, the
    delayed ones wait past the benchmark."""
    registry = TaskRegistry()
    for name in NAMES:
        def body(**params: Any) -> None:
            return None

        body.__doc__ = f"{name} (benchmark stand-in)"
        deferred.task(name=name, registry=registry)(body)
    return registry


def _caught_up(url: str) -> bool:
    """True once every span's mark is within a few minutes of now."""
    from deferred.records import utcnow
    from deferred.store.schema import stats_marks
    from deferred.store.stats_rollup import SPANS, minute_of

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            marks = dict(conn.execute(sa.select(stats_marks.c.span_min,
                                                stats_marks.c.rolled_until_min)).all())
    finally:
        engine.dispose()
    now_min = minute_of(utcnow())
    return all(span in marks and marks[span] >= now_min - 2 * span - 5 for span in SPANS)


def cases() -> list[tuple[str, str]]:
    """(what, path) of every GET timed."""
    name = NAMES[0]
    return [("overview, 1 h (default)", "/"),
            ("overview, 15 min", "/?range=15m"),
            ("overview, 24 h", "/?range=24h"),
            ("overview, 7 d", "/?range=7d"),
            ("overview, 7 d, one task type", f"/?range=7d&task_name={name}"),
            ("task type page, 24 h", f"/task-types/{name}?range=24h"),
            ("task type page, 7 d", f"/task-types/{name}?range=7d"),
            ("live statistics part, 1 h", "/ui/parts/stats?range=1h"),
            ("live statistics part, 7 d", "/ui/parts/stats?range=7d")]


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Accept": "text/html"})
    response = conn.getresponse()
    body = response.read()
    return response.status, body, time.perf_counter() - started


def measure(conn: http.client.HTTPConnection, path: str, requests: int) -> dict[str, Any]:
    """Median and p95 ms of `requests` GETs of `path` after a warm-up. Raises
    `RuntimeError` for an answer other than 200 or a page without its charts."""
    for _ in range(WARMUP):
        status, body, _ = _get(conn, path)
        if status != 200 or b'data-chart="finished"' not in body:
            raise RuntimeError(f"GET {path} answered {status} without charts: {body[:300]!r}")
    times = [_get(conn, path)[2] * 1000 for _ in range(requests)]
    return {"median_ms": median(times), "p95_ms": percentile(times, 0.95)}


def run(records: int = RECORDS, requests: int = REQUESTS) -> dict[str, Any]:
    """The first roll-up's time and each page's median and p95 ms over `records` tasks."""
    with run_dir("dashboard") as directory:
        url = f"sqlite+pysqlite:///{directory / 'deferred.db'}"
        started = time.perf_counter()
        fill_database(url, records, RECENT)
        fill_s = time.perf_counter() - started
        size_mb = Path(directory / "deferred.db").stat().st_size / 1e6
        server = deferred.Server({"db": {"url": url}, "http": {"port": 0}},
                                 registry=_registry())
        started = time.perf_counter()
        server.start()
        try:
            while not _caught_up(url):
                if time.perf_counter() - started > ROLL_UP_TIMEOUT_S:
                    raise RuntimeError(f"the roll-up had not caught up after "
                                       f"{ROLL_UP_TIMEOUT_S} s")
                time.sleep(0.5)
            roll_up_s = time.perf_counter() - started
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            try:
                measured = [(what, path, measure(conn, path, requests))
                            for what, path in cases()]
            finally:
                conn.close()
        finally:
            server.stop(grace_s=0)
    rows = [{"case": what, "path": path, "median ms": round(figures["median_ms"], 1),
             "p95 ms": round(figures["p95_ms"], 1), "goal ms": GOAL_MS,
             "met": "yes" if figures["p95_ms"] <= GOAL_MS else "NO"}
            for what, path, figures in measured]
    rows.append({"case": f"first roll-up of {records + RECENT:,} finished tasks",
                 "path": "(deferred-stats thread)", "median ms": round(roll_up_s * 1000)})
    return {"rows": rows, "records": records + RECENT, "fill_s": round(fill_s, 1),
            "database_mb": round(size_mb, 1), "roll_up_s": round(roll_up_s, 1)}
