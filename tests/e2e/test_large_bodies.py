"""A body over `http.max_body_bytes` sent to a real `runserver` process over real sockets:
the client reads its whole 413 without seeing a broken pipe while the body is no more than a
few times the limit, and a body far beyond that is cut off, not read to its end."""

from __future__ import annotations

import http.client
import io
import json
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverproc import ServerProcess

PROBE_TASKS = Path(__file__).with_name("probe_tasks.py")
MAX_BODY_BYTES = 4 * 1024 * 1024  # twice that is more than loopback's socket buffers
CHUNK_BYTES = 64 * 1024
TIMEOUT_S = 30
TOO_LARGE = {"status": "ERROR", "error_code": 105,
             "error_msg": f"the request body ({2 * MAX_BODY_BYTES} bytes) is over the limit of "
                          f"{MAX_BODY_BYTES} bytes (http.max_body_bytes); it was not read"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("large_bodies")
    process = ServerProcess(PROBE_TASKS, directory, {"http": {"max_body_bytes": MAX_BODY_BYTES}})
    try:
        yield process.start()
    finally:
        process.stop()


def address(server: ServerProcess) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def head(length: int) -> bytes:
    return (b"POST /api/tasks HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % length)


def parse(data: bytes) -> http.client.HTTPResponse:
    class Recorded:
        def makefile(self, mode: str) -> io.BytesIO:
            return io.BytesIO(data)

    response = http.client.HTTPResponse(Recorded())  # type: ignore[arg-type]
    response.begin()
    return response


def test_a_body_twice_the_limit_gets_a_whole_413_through_http_client(server):
    connection = http.client.HTTPConnection(*address(server), timeout=TIMEOUT_S)
    try:
        # No BrokenPipeError or ConnectionResetError while the body is sent, nor after.
        connection.request("POST", "/api/tasks", body=b" " * (2 * MAX_BODY_BYTES),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("Content-Type") == "application/json"
        assert json.loads(response.read()) == TOO_LARGE
    finally:
        connection.close()
    assert server.request("GET", "/healthz")[0] == 200


def test_a_raw_client_that_keeps_sending_twice_the_limit_reads_the_whole_413(server):
    body_bytes = 2 * MAX_BODY_BYTES
    with socket.create_connection(address(server), timeout=TIMEOUT_S) as sock:
        sock.sendall(head(body_bytes))
        for _ in range(body_bytes // CHUNK_BYTES):
            sock.sendall(b"x" * CHUNK_BYTES)  # raises if the server closed on the body
        chunks = []
        while chunk := sock.recv(65536):  # raises on a reset
            chunks.append(chunk)
    response = parse(b"".join(chunks))
    assert response.status == 413
    assert json.loads(response.read()) == TOO_LARGE


def test_a_body_a_hundred_times_the_limit_is_cut_off_without_being_read(server):
    body_bytes = 100 * MAX_BODY_BYTES
    sent = 0
    with socket.create_connection(address(server), timeout=TIMEOUT_S) as sock:
        sock.sendall(head(body_bytes))
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            while sent < body_bytes:
                sock.sendall(b"x" * CHUNK_BYTES)
                sent += CHUNK_BYTES
    # What the server read, plus what the sockets' buffers held (some megabytes on loopback).
    assert sent < body_bytes // 2
    assert server.request("GET", "/healthz")[0] == 200
