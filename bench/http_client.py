"""A load client for `bench.http_submit`: keep-alive HTTP/1.1 connections, one thread each,
each sending the same POST back to back. Run as a process of its own:

    python -m bench.http_client PORT CONNECTIONS START END WINDOW_START BODY_JSON [MODE]

MODE is `plain` (the default: the same POST each time), `keyed` (each POST with an
`Idempotency-Key` header of its own) or `poll` (no POST: `GET /api/tasks` and `GET /tasks`
in turn, every `POLL_S`, as a dashboard would; BODY_JSON is ignored).

Times are `time.monotonic()` values, which every process of the machine shares. Requests
that complete inside [WINDOW_START, END] are counted for the rate and the percentiles;
every 202 with a `task_id` counts as accepted, whenever it came. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time

PATH = "/api/tasks"
POLL_S = 0.1
POLL_PATHS = ("/api/tasks", "/tasks")


def _request(port: int, body: bytes, key: str | None = None) -> bytes:
    extra = f"Idempotency-Key: {key}\r\n" if key is not None else ""
    head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


def _get(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode("ascii")


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes]:
    """(status, body) of one response; leftovers stay in `buffer`."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buffer += chunk
    end = buffer.index(b"\r\n\r\n")
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    length = None
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        elif name.strip().lower() == "transfer-encoding":
            raise ValueError("chunked answers are not expected")
    if length is None:
        raise ValueError("no Content-Length in the answer")
    while len(buffer) < end + 4 + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-answer")
        buffer += chunk
    body = bytes(buffer[end + 4:end + 4 + length])
    del buffer[:end + 4 + length]
    return status, body


class _Connection(threading.Thread):
    def __init__(self, port: int, body: bytes, start: float, end: float, window: float,
                 mode: str = "plain", number: int = 0):
        super().__init__(name="bench-client")
        self.port, self.body, self.mode = port, body, mode
        self.request = _request(port, body)
        self.key_prefix = f"{os.getpid()}-{number}-"
        self.start_at, self.end_at, self.window_at = start, end, window
        self.latencies_ms: list[float] = []
        self.accepted = self.in_window = 0
        self.statuses: dict[int, int] = {}
        self.error: str | None = None

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # reported in the output, not lost in a thread
            self.error = f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray()
        time.sleep(max(0.0, self.start_at - time.monotonic()))
        try:
            count = 0
            while True:
                sent = time.monotonic()
                if sent >= self.end_at:
                    return
                count += 1
                if self.mode == "poll":
                    if count > 1:
                        time.sleep(POLL_S)
                        sent = time.monotonic()
                    request = _get(self.port, POLL_PATHS[count % len(POLL_PATHS)])
                elif self.mode == "keyed":
                    request = _request(self.port, self.body, self.key_prefix + str(count))
                else:
                    request = self.request
                sock.sendall(request)
                status, body = _read_response(sock, buffer)
                done = time.monotonic()
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 202 and b'"task_id"' in body:
                    self.accepted += 1
                if self.window_at <= done <= self.end_at:
                    self.in_window += 1
                    self.latencies_ms.append(round((done - sent) * 1000, 3))
        finally:
            sock.close()


def main(argv: list[str]) -> int:
    port, connections = int(argv[0]), int(argv[1])
    start, end, window = float(argv[2]), float(argv[3]), float(argv[4])
    body, mode = argv[5].encode("utf-8"), argv[6] if len(argv) > 6 else "plain"
    threads = [_Connection(port, body, start, end, window, mode, number)
               for number in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses: dict[str, int] = {}
    for thread in threads:
        for status, count in thread.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
    cpu = os.times()
    json.dump({"accepted": sum(t.accepted for t in threads),
               "in_window": sum(t.in_window for t in threads),
               "latencies_ms": [ms for t in threads for ms in t.latencies_ms],
               "statuses": statuses, "cpu_s": cpu.user + cpu.system,
               "errors": [t.error for t in threads if t.error]}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
