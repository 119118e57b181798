"""UI pages and the JSON API over 100,000 finished tasks: how long one GET takes.

A SQLite file gets 100,000 finished records (1 in 20 FAILED, 1 in 10 with an email and its
SENT outbox row, four task names, small params and results) in a few bulk transactions; an
in-process `deferred.Server` then serves it on a real port. One keep-alive connection sends
each GET `WARMUP` times, then `REQUESTS` times timed, from writing the request to having
read the whole body. A path answering 404, or 405 (`/` takes only the API's POST until the
UI is mounted), is reported as missing; any other answer but 200 stops the run.

The search cases (`q=`) are the costly ones: the store scans rows for them, and a text that
few rows contain means scanning the whole table to fill the first page.
"""

from __future__ import annotations

import datetime
import http.client
import json
import random
import time
import urllib.parse
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import deferred
from deferred.jsontext import encode_json
from deferred.tasks.registry import TaskRegistry

from .sides import median, percentile, run_dir

RECORDS = 100_000
BATCH = 10_000
FAILED_EVERY = 20
EMAIL_EVERY = 10
RARE_EVERY = 20_000  # 1 record in RARE_EVERY has RARE_WORD in its params: 5 of 100,000
RARE_WORD = "zebracorp"
COMMON_WORD = "hello"  # in the params and result of every multiprint record: about 1 in 4
WARMUP = 5
MISSING = (404, 405)  # no such route, or no GET on it
REQUESTS = 60
TIMEOUT_S = 60
SERVER_ID = "bench-ui-pages"
NAMES = ("mult", "multiprint", "make_report", "resize_image")
SPACING = datetime.timedelta(seconds=25)  # between two records' creation: 29 days in all


def _params_and_result(name: str, i: int, rng: random.Random) -> tuple[Any, Any]:
    if name == "mult":
        operands = [rng.randint(1, 99) for _ in range(rng.randint(2, 5))]
        product = 1
        for operand in operands:
            product *= operand
        return {"operands": operands}, product
    if name == "multiprint":
        count = rng.randint(1, 4)
        return ({"msg": f"{COMMON_WORD} {i}", "count": count},
                "\n".join([f"{COMMON_WORD} {i}"] * count))
    if name == "make_report":
        rare = i % RARE_EVERY == NAMES.index(name)  # every RARE_EVERY-th make_report record
        customer = RARE_WORD if rare else f"customer-{rng.randint(1, 500):04d}"
        return ({"customer": customer, "month": f"2024-{rng.randint(1, 12):02d}"},
                f"report for {customer}: {rng.randint(0, 400)} rows")
    width = rng.choice((320, 640, 1280))
    return ({"url": f"https://images.example.org/{i}.png", "width": width},
            {"width": width, "height": width * 3 // 4, "bytes": rng.randint(20_000, 900_000)})


def _task_row(i: int, rng: random.Random, start: datetime.datetime) -> dict[str, Any]:
    """Record `i` (its id), created `SPACING` after record i - 1."""
    name = NAMES[i % len(NAMES)]
    params, result = _params_and_result(name, i, rng)
    created = start + SPACING * i
    started = created + datetime.timedelta(milliseconds=rng.randint(1, 50))
    finished = started + datetime.timedelta(milliseconds=rng.randint(5, 3000))
    row = {"id": i, "name": name, "params": encode_json(params),
           "status": "SUCCEEDED", "attempts": 1, "result": encode_json(result),
           "error_type": None, "error_message": None, "error_traceback": None,
           "owner": SERVER_ID,
           "email": f"user{i % 37}@example.org" if i % EMAIL_EVERY == 0 else None,
           "created_at": created, "started_at": started, "finished_at": finished}
    if i % FAILED_EVERY == 0:
        message = f"{name} could not finish: upstream answered 503 for item {i}"
        row.update(status="FAILED", result=None, error_type="RuntimeError",
                   error_message=message,
                   error_traceback=("Traceback (most recent call last):\n"
                                    '  File "/srv/tasks.py", line 42, in run\n'
                                    "    return fetch(params)\n"
                                    '  File "/srv/tasks.py", line 17, in fetch\n'
                                    f"    raise RuntimeError({message!r})\n"
                                    f"RuntimeError: {message}\n"))
    return row


def _email_row(task: dict[str, Any]) -> dict[str, Any]:
    sent = task["finished_at"] + datetime.timedelta(milliseconds=300)
    return {"task_id": task["id"], "recipient": task["email"], "status": "SENT", "attempts": 1,
            "last_error": None, "owner": None, "created_at": task["finished_at"],
            "next_attempt_at": task["finished_at"], "sent_at": sent}


def fill_database(url: str, records: int = RECORDS) -> dict[str, int]:
    """Create the schema as a server would, then store `records` finished tasks in bulk.
    Returns how many records contain each search word (where the UI's search looks)."""
    from deferred.config import DbConfig
    from deferred.records import utcnow
    from deferred.store import SqlTaskStore
    from deferred.store.engine import make_engine
    from deferred.store.schema import outbox, tasks

    SqlTaskStore(DbConfig(url=url)).close()
    rng = random.Random(20250101)
    start = utcnow() - SPACING * (records + 1)  # the newest was created a moment ago
    engine = make_engine(url)
    try:
        for first in range(1, records + 1, BATCH):
            rows = [_task_row(i, rng, start) for i in range(first, min(first + BATCH, records + 1))]
            emails = [_email_row(row) for row in rows if row["email"]]
            with engine.begin() as conn:
                conn.execute(tasks.insert(), rows)
                if emails:  # an empty list would insert one row of defaults
                    conn.execute(outbox.insert(), emails)
        with engine.connect() as conn:
            return {word: conn.execute(sa.select(sa.func.count()).where(sa.or_(*(
                column.like(f"%{word}%") for column in (
                    tasks.c.name, tasks.c.params, tasks.c.result, tasks.c.error_message))))
                ).scalar_one() for word in (RARE_WORD, COMMON_WORD)}
    finally:
        engine.dispose()


def _registry() -> TaskRegistry:
    """The task names of the stored records (their bodies are never run here)."""
    registry = TaskRegistry()
    for name in NAMES:
        def body(**params: Any) -> None:
            raise AssertionError("the benchmark runs no task")

        body.__doc__ = f"{name} (benchmark stand-in)"
        deferred.task(name=name, registry=registry)(body)
    return registry


def cases(records: int, matches: dict[str, int]) -> list[tuple[str, str]]:
    """(what, path) of every GET measured: the API first (it exists), then the UI.
    `matches`: how many records contain each search word."""
    deep = min(200, records)  # a cursor near the oldest record
    middle = records // 2 + 1
    q = urllib.parse.quote
    return [
        ("API list, first page", "/api/tasks"),
        ("API list, FAILED", "/api/tasks?status=FAILED"),
        ("API list, one task name", f"/api/tasks?task_name={NAMES[2]}"),
        ("API list, deep page", f"/api/tasks?cursor={deep}"),
        ("API one task", f"/api/tasks/{middle}"),
        ("API task types", "/api/task-types"),
        ("UI overview", "/"),
        ("UI finished tasks, first page", "/tasks"),
        ("UI FAILED", "/tasks?status=FAILED"),
        ("UI one task name", f"/tasks?task_name={NAMES[2]}"),
        (f"UI search, {matches[RARE_WORD]} rows match", f"/tasks?q={q(RARE_WORD)}"),
        (f"UI search, {matches[COMMON_WORD]} rows match", f"/tasks?q={q(COMMON_WORD)}"),
        ("UI deep page", f"/tasks?cursor={deep}"),
        ("UI one task", f"/tasks/{middle}"),
        ("UI one task, FAILED", f"/tasks/{middle // FAILED_EVERY * FAILED_EVERY}"),
        ("live overview part", "/ui/parts/overview"),
        ("live task list part", "/ui/parts/tasks"),
        (f"live task list part, search, {matches[RARE_WORD]} match",
         f"/ui/parts/tasks?q={q(RARE_WORD)}"),
        ("live one task part", f"/ui/parts/task/{middle}"),
    ]


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes, float, bool]:
    """(status, body, seconds, whether the server closes the connection) of one GET."""
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    return response.status, body, time.perf_counter() - started, response.will_close


def measure(conn: http.client.HTTPConnection, path: str, requests: int = REQUESTS
            ) -> dict[str, Any]:
    """Warm up, then time `requests` GETs of `path`. Raises `RuntimeError` for an answer
    other than 200, 404 or 405."""
    status, body, first_s, _ = _get(conn, path)
    if status in MISSING:
        return {"status": f"missing ({status})"}
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
    for _ in range(WARMUP - 1):
        _get(conn, path)
    times, closed = [], 0
    for _ in range(requests):
        status, body, seconds, will_close = _get(conn, path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status} after 200: {body[:300]!r}")
        times.append(seconds * 1000)
        closed += will_close
    return {"status": "200", "requests": requests, "median_ms": median(times),
            "p95_ms": percentile(times, 0.95), "first_ms": first_s * 1000,
            "body_bytes": len(body), "connection_closed": closed}


def _check_api(conn: http.client.HTTPConnection, records: int) -> None:
    """The harness reads what it should: the API lists the stored records."""

    def get_json(path: str) -> Any:
        status, body, _, _ = _get(conn, path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
        return json.loads(body)

    newest = get_json("/api/tasks")["tasks"]
    if [task["task_id"] for task in newest] != list(range(records, records - 50, -1)):
        raise RuntimeError("GET /api/tasks did not list the newest 50 stored records")
    failed = get_json("/api/tasks?status=FAILED")["tasks"]
    if not failed or any(task["status"] != "FAILED" for task in failed):
        raise RuntimeError("GET /api/tasks?status=FAILED listed other statuses")
    if get_json(f"/api/tasks/{records // 2}")["task_id"] != records // 2:
        raise RuntimeError("GET /api/tasks/<id> answered another record")


def _row(what: str, path: str, figures: dict[str, Any]) -> dict[str, Any]:
    if figures["status"] != "200":
        return {"case": what, "path": path, "status": figures["status"]}
    return {"case": what, "path": path, "status": "200", "requests": figures["requests"],
            "median ms": round(figures["median_ms"], 2), "p95 ms": round(figures["p95_ms"], 2),
            "first ms": round(figures["first_ms"], 1),
            "kB": round(figures["body_bytes"] / 1024, 1)}


def run(records: int = RECORDS, requests: int = REQUESTS) -> dict[str, Any]:
    """Median and p95 ms of each GET over `records` finished tasks."""
    with run_dir("ui-pages") as directory:
        url = f"sqlite+pysqlite:///{directory / 'deferred.db'}"
        started = time.perf_counter()
        matches = fill_database(url, records)
        fill_s = time.perf_counter() - started
        size_mb = Path(directory / "deferred.db").stat().st_size / 1e6
        server = deferred.Server({"db": {"url": url}, "http": {"port": 0}},
                                 registry=_registry())
        server.start()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
            try:
                _check_api(conn, records)
                measured = {path: (what, measure(conn, path, requests))
                            for what, path in cases(records, matches)}
            finally:
                conn.close()
        finally:
            server.stop()
    rows = [_row(what, path, figures) for path, (what, figures) in measured.items()]
    return {"rows": rows, "records": records, "search_matches": matches,
            "fill_s": round(fill_s, 1), "database_mb": round(size_mb, 1),
            "cases": {path: figures for path, (_, figures) in measured.items()}}
