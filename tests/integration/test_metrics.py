"""`GET /metrics` from a real server: Prometheus' text format with what this server did and
what the database holds."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

from polling import wait_until

import deferred
from deferred.errors import TaskFailedError
from deferred.runtime.metrics import Metrics
from deferred.tasks.registry import TaskRegistry


def scrape(server: deferred.Server) -> tuple[str, str]:
    with urllib.request.urlopen(server.url + "/metrics", timeout=30) as answer:
        return answer.headers["Content-Type"], answer.read().decode()


def test_metrics_count_submits_runs_outcomes_and_the_queue(tmp_path: Path):
    registry = TaskRegistry()
    gate = threading.Event()

    @deferred.task(name="ok", registry=registry)
    def ok():
        return 1

    @deferred.task(name="bad", registry=registry)
    def bad():
        raise ValueError("no")

    @deferred.task(name="gated", registry=registry)
    def gated():
        gate.wait(30)

    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0},
                              "limits": {"global": 4, "names": {"gated": 1}}}, registry)
    server.start()
    try:
        server.submit("ok").wait(10)
        try:
            server.submit("bad").wait(10)
        except TaskFailedError:
            pass
        server.submit("gated")
        server.submit("gated")
        content_type, text = wait_until(
            lambda: (lambda pair: 'deferred_tasks_running{task_type="gated"} 1' in pair[1]
                     and pair)(scrape(server)))
        assert content_type.startswith("text/plain; version=0.0.4")
        for line in ('deferred_tasks_submitted_total{task_type="gated"} 2',
                     'deferred_tasks_finished_total{task_type="ok",status="SUCCEEDED"} 1',
                     'deferred_tasks_finished_total{task_type="bad",status="FAILED"} 1',
                     'deferred_tasks_queued{task_type="gated"} 1',
                     'deferred_task_type_limit{task_type="gated"} 1',
                     'deferred_global_limit 4',
                     'deferred_task_run_seconds_count{task_type="ok"} 1',
                     'deferred_task_run_seconds_bucket{task_type="ok",le="+Inf"} 1',
                     '# TYPE deferred_task_run_seconds histogram'):
            assert line in text, line
    finally:
        gate.set()
        server.stop()


def test_label_values_are_escaped():
    metrics = Metrics()
    metrics.task_submitted('we"ird\\name')
    text = metrics.render(pending={}, limits={}, global_limit=1, outbox={"SENT": 2})
    assert 'deferred_tasks_submitted_total{task_type="we\\"ird\\\\name"} 1' in text
    assert 'deferred_emails{state="sent"} 2' in text
