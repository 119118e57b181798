"""A server whose SQLite database is on a small filesystem that fills up: a submit is refused
with 503 and code 501, /healthz says the store is unable to write, reads go on, nothing
accepted is lost, and once room is made /healthz recovers by itself and submits work again.

The filesystem is a 4 MiB tmpfs the test mounts, so it needs root; without it the test fails
(a skip would hide that the full disk was never tried)."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import holds_for
from probe_log import starts
from serverproc import ServerProcess, wait_until

PROBE_TASKS = Path(__file__).with_name("probe_tasks.py")
DISK_SIZE = "4m"
BIG_PARAM_BYTES = 200_000  # more than the pages the database file and its WAL have spare
WRITE_PROBE_S = 5.0  # how often the server tries a write of its own once one failed


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted on tmp_path/disk for the test, unmounted after it."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root to mount a small filesystem (mount -t tmpfs) for "
                    "the full disk; run the suite as root", pytrace=False)
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs",
                              str(mount_point)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a {DISK_SIZE} tmpfs on {mount_point} (exit "
                    f"{mounted.returncode}): {mounted.stderr.strip()}", pytrace=False)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


@pytest.fixture
def server_on_small_disk(small_disk: Path, tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    """A server with its database on the small disk, its probe log in tmp_path; stopped
    before the disk is unmounted."""
    monkeypatch.setenv("PROBE_DIR", str(tmp_path))
    server = ServerProcess(PROBE_TASKS, tmp_path, {
        "db": {"url": f"sqlite+pysqlite:///{small_disk / 'deferred.db'}"},
        "recovery": {"backoff_s": 0.2}})
    try:
        yield server.start()
    finally:
        server.stop()


def fill(disk: Path) -> Path:
    """Write a file on `disk` until not one more page fits; return it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        for chunk_bytes in (1 << 16, 4096):
            chunk = b"\0" * chunk_bytes
            try:
                while True:
                    out.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


def health(server: ServerProcess) -> tuple[int, Any]:
    return server.request("GET", "/healthz")


def succeeded(server: ServerProcess, task_ids: list[int]) -> bool:
    return all(server.task(task_id)["status"] == "SUCCEEDED" for task_id in task_ids)


def test_a_full_disk_refuses_submits_with_503_keeps_what_it_had_and_recovers(
        server_on_small_disk, tmp_path):
    server = server_on_small_disk
    before = [server.submit("probe", {"key": f"before{index}"}) for index in range(3)]
    wait_until(lambda: succeeded(server, before))
    hold = tmp_path / "hold"
    hold.touch()
    held = server.submit("probe", {"key": "held", "hold_while": str(hold)})
    wait_until(lambda: starts(tmp_path)["held"])

    filler = fill(tmp_path / "disk")
    status, body = server.request("POST", "/api/tasks", {
        "task_name": "probe", "params": {"key": "big-" + "x" * BIG_PARAM_BYTES}, "wait": 0})
    assert (status, body["status"], body["error_code"]) == (503, "ERROR", 501), body
    assert "the database is full" in body["error_msg"]
    status, body = health(server)
    assert (status, body["store"], body["error_code"]) == (503, "unable to write", 501), body
    status, body = server.request("GET", "/api/tasks")
    assert status == 200, body
    assert {task["task_id"] for task in body["tasks"]} >= {*before, held}
    # It stays so while the disk is full, past the server's own write probe and polls.
    def still_unable_to_write() -> bool:
        status, body = health(server)
        assert (status, body["store"]) == (503, "unable to write"), body
        return True

    holds_for(still_unable_to_write, WRITE_PROBE_S + 1, step_s=0.2)

    filler.unlink()
    freed_at = time.monotonic()
    # No submit, no task ending: the server's own write, tried every WRITE_PROBE_S, sees
    # the room.
    wait_until(lambda: health(server)[0] == 200, timeout_s=2 * WRITE_PROBE_S + 2, step_s=0.2)
    recovered_s = time.monotonic() - freed_at
    assert health(server)[1]["store"] == "reachable"
    hold.unlink()
    after = server.submit("probe", {"key": "after"})
    wait_until(lambda: succeeded(server, [*before, held, after]), timeout_s=30)
    counts = starts(tmp_path)
    assert [counts[f"before{index}"] for index in range(3)] + [counts["after"]] == [1] * 4
    assert counts["held"] == 1  # running through the full disk, it ran once
    assert "the database is full" in server.log
    assert "Traceback" not in server.log
    print(f"full disk: healthy again {recovered_s:.1f} s after the filler went; "
          f"{server.log.count('the database is full')} full-disk lines in the server log")
