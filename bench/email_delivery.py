"""Email delivery: 1,000 finished tasks with an email each, to a local aiosmtpd.

Reports emails delivered per second (from the first task's end to the last message received)
and the delay from a task's end (its `finished_at`) to its message arriving, p50 and p99.
The server runs in this process with `listen=False`; aiosmtpd runs on 127.0.0.1 beside it.
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

import deferred
from deferred.mail.message import message_id
from deferred.tasks.registry import TaskRegistry

TASKS = 1000


class _Receiver:
    def __init__(self) -> None:
        self.received: dict[str, float] = {}  # Message-ID -> wall-clock time received
        self.done = threading.Event()
        self.expected = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or b""
        for line in content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                self.received[line.split(b":", 1)[1].strip().decode()] = time.time()
                break
        if len(self.received) >= self.expected:
            self.done.set()
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(tasks: int = TASKS) -> list[dict[str, object]]:
    """One run: submit `tasks` tasks with email, wait until every message arrived."""
    receiver = _Receiver()
    receiver.expected = tasks
    port = _free_port()
    controller = Controller(receiver, hostname="127.0.0.1", port=port)
    controller.start()
    registry = TaskRegistry()

    @deferred.task(name="noop", registry=registry)
    def noop(n: int) -> str:
        return f"result {n}"

    with tempfile.TemporaryDirectory(dir="/var/tmp") as directory:
        server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{Path(directory)}/b.db"},
                                  "smtp": {"host": "127.0.0.1", "port": port,
                                           "sender": "bench@example.com"}}, registry)
        server.start(listen=False)
        try:
            handles = [server.submit("noop", {"n": n}, email=f"u{n}@example.com")
                       for n in range(tasks)]
            if not receiver.done.wait(600):
                raise RuntimeError(f"only {len(receiver.received)} of {tasks} emails arrived")
            records = [handle.record for handle in handles]
        finally:
            server.stop()
            controller.stop()
    finished = {_message_id_of(record): record.finished_at for record in records}
    delays = [receiver.received[mid] - at.timestamp() for mid, at in finished.items()]
    first_end = min(at.timestamp() for at in finished.values())
    span = max(receiver.received.values()) - first_end
    return [{"benchmark": f"email: {tasks} tasks to a local aiosmtpd",
             "emails_per_s": round(tasks / span, 1),
             "delay_p50_ms": round(statistics.median(delays) * 1000, 1),
             "delay_p99_ms": round(_percentile(delays, 0.99) * 1000, 1)}]


def _message_id_of(record: Any) -> str:
    return message_id(record.id, "bench@example.com", record.created_at)
