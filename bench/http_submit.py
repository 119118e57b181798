"""(e) HTTP submits with `"wait": 0` at 32 connections against a real `runserver` process.

`python sample_tasks.py runserver --port 0 --config <run dir>/config.json` on a fresh SQLite
file; `CLIENT_PROCESSES` processes of `bench.http_client` hold 32 keep-alive connections in
all, each sending `POST /api/tasks` back to back. The server also runs what it accepts (its
default pool of 8). After the run the server is stopped with SIGTERM and the rows in its
SQLite file are counted: every accepted submit (a 202 with a `task_id`) must be a row.

A first phase sends the same request with params the schema refuses (422): everything a
submit does but the commit, which shows what the HTTP side alone can do here.

Each round first loads `bench.bare_server` the same way: a bottle app on waitress that reads
the JSON body and answers 202, the ceiling of this machine in this run. The goals are ratios
to it: submits at least 0.5 of it (p99 at most 50 ms), refusals at least 0.8.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .sides import median, percentile, run_dir
from .summary import goal_row

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 32
CLIENT_PROCESSES = 4
WARMUP_S = 1.0
DURATION_S = 5.0
REFUSED_S = 2.0
START_DELAY_S = 0.5  # lets every client process start and connect before the clock starts
SUBMIT = {"task_name": "multiprint", "params": {"msg": "hello", "count": 2}, "wait": 0}
REFUSED = {"task_name": "multiprint", "params": {"msg": 5}, "wait": 0}


def _start_server(directory: Path, bare: bool = False) -> tuple[subprocess.Popen[str], int]:
    config = directory / "config.json"
    config.write_text(json.dumps({"db": {"url": f"sqlite+pysqlite:///{directory / 'bench.db'}"}}))
    log = open(directory / "server.log", "w", encoding="utf-8")  # noqa: SIM115 (closed by the child's exit)
    command = [sys.executable, "-m", "bench.bare_server"] if bare else [
        sys.executable, "sample_tasks.py", "runserver", "--port", "0", "--config", str(config)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log,
                               text=True)
    log.close()
    assert process.stdout is not None
    for line in process.stdout:
        if "listening on http://" in line:
            return process, int(line.rsplit(":", 1)[1].strip().strip("/"))
    process.wait()
    raise RuntimeError(f"runserver exited with {process.returncode}: "
                       f"{(directory / 'server.log').read_text()[-2000:]}")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _phase(port: int, server_pid: int, body: dict[str, Any], warmup_s: float,
           duration_s: float, *, connections: int = CONNECTIONS, mode: str = "plain",
           pollers: int = 0) -> dict[str, Any]:
    """Load the server from `CLIENT_PROCESSES` processes (`connections` in all, in `mode`;
    `pollers` more connections polling the task lists, not counted); what the submitting
    ones saw, summed."""
    start = time.monotonic() + START_DELAY_S
    window, end = start + warmup_s, start + warmup_s + duration_s
    per_process = [connections // CLIENT_PROCESSES + (i < connections % CLIENT_PROCESSES)
                   for i in range(CLIENT_PROCESSES)]
    clients = [subprocess.Popen([sys.executable, "-m", "bench.http_client", str(port), str(n),
                                 repr(start), repr(end), repr(window), json.dumps(body),
                                 mode],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
               for n in per_process]
    polling = [subprocess.Popen([sys.executable, "-m", "bench.http_client", str(port),
                                 str(pollers), repr(start), repr(end), repr(window), "{}",
                                 "poll"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
               ] if pollers else []
    time.sleep(max(0.0, window - time.monotonic()))
    server_cpu = _cpu_s(server_pid)
    time.sleep(max(0.0, end - time.monotonic()))
    server_cpu = _cpu_s(server_pid) - server_cpu
    outputs = [json.loads(client.communicate()[0]) for client in clients]
    polled = [json.loads(poller.communicate()[0]) for poller in polling]
    errors = [error for out in outputs + polled for error in out["errors"]]
    if errors:
        raise RuntimeError(f"load clients failed: {errors[:3]}")
    latencies = [ms for out in outputs for ms in out["latencies_ms"]]
    statuses: dict[str, int] = {}
    for out in outputs:
        for status, count in out["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {"per_s": sum(out["in_window"] for out in outputs) / duration_s,
            "accepted": sum(out["accepted"] for out in outputs),
            "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99),
            "statuses": statuses, "server_cpu_share": server_cpu / duration_s,
            "client_cpu_s": round(sum(out["cpu_s"] for out in outputs), 2),
            "duration_s": duration_s,
            "poll_statuses": {status: sum(out["statuses"].get(status, 0) for out in polled)
                              for out in polled for status in out["statuses"]},
            "poll_p99_ms": percentile([ms for out in polled for ms in out["latencies_ms"]],
                                      0.99) if polled else None}


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise RuntimeError("runserver did not stop within 60 s of SIGTERM") from None


def _rows(database: Path) -> int:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM deferred_tasks").fetchone()[0])
    finally:
        conn.close()


ROUNDS = 3


def _bare_round() -> dict[str, Any]:
    """The bare handler under the submit load."""
    with run_dir("http-bare") as directory:
        process, port = _start_server(directory, bare=True)
        try:
            return _phase(port, process.pid, SUBMIT, WARMUP_S, DURATION_S)
        finally:
            process.kill()
            process.wait()


def _round() -> dict[str, Any]:
    """A bare handler's phase; then one server: the refused phase, the submit phase, then
    stop it and count its rows."""
    bare = _bare_round()
    with run_dir("http") as directory:
        process, port = _start_server(directory)
        try:
            refused = _phase(port, process.pid, REFUSED, 0.5, REFUSED_S)
            submits = _phase(port, process.pid, SUBMIT, WARMUP_S, DURATION_S)
        finally:
            exit_code = _stop(process)
        stored = _rows(directory / "bench.db")
    if set(submits["statuses"]) != {"202"}:
        raise RuntimeError(f"submits got answers other than 202: {submits['statuses']}")
    return {"bare": bare, "submits": submits, "refused": refused, "rows_stored": stored,
            "server_exit": exit_code}


def run(rounds: int = ROUNDS) -> dict[str, Any]:
    """Median submits/s and p99 over `rounds` servers; accepted = stored checked in each."""
    results = [_round() for _ in range(rounds)]
    submits = [r["submits"] for r in results]
    checks = [f"{r['submits']['accepted']} = {r['rows_stored']}" for r in results]
    all_equal = all(r["submits"]["accepted"] == r["rows_stored"] for r in results)
    cpu = f"{median([s['server_cpu_share'] for s in submits]):.2f} cores"
    client_s = START_DELAY_S + WARMUP_S + DURATION_S
    client_cpu = f"{median([s['client_cpu_s'] for s in submits]) / client_s:.2f} cores"
    conns = f"{CONNECTIONS} conns, {CLIENT_PROCESSES} client procs"
    bare = median([r["bare"]["per_s"] for r in results])
    accepted = median([s["per_s"] for s in submits])
    refused = median([r["refused"]["per_s"] for r in results])
    rows = [goal_row(f"HTTP submit wait=0, {conns}", "x bare handler", accepted / bare, 0.5,
                     deferred_per_s=round(accepted), bare_per_s=round(bare),
                     server_cpu=cpu, client_cpu=client_cpu),
            goal_row(f"HTTP submit wait=0, {conns}", "p99 ms",
                     median([s["p99_ms"] for s in submits]), 50, higher_is_better=False,
                     bare_p99_ms=round(median([r["bare"]["p99_ms"] for r in results]), 1)),
            {"case": f"HTTP submit wait=0, {conns}", "unit": "accepted = rows stored",
             "deferred": "; ".join(checks), "goal": "equal", "met": "yes" if all_equal else "NO"},
            goal_row("HTTP same request refused by the schema (no commit)", "x bare handler",
                     refused / bare, 0.8, deferred_per_s=round(refused),
                     bare_per_s=round(bare),
                     server_cpu=f"{median([r['refused']['server_cpu_share'] for r in results]):.2f} cores")]
    return {"rows": rows, "rounds": results, "connections": CONNECTIONS,
            "client_processes": CLIENT_PROCESSES, "duration_s": DURATION_S}
