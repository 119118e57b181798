"""A `runserver` subprocess for end-to-end tests: started on port 0, its real port read from
its "listening on" line, stopped with a signal and killed if it will not go."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polling import wait_until  # noqa: F401 (the e2e tests import it from here)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (http://[^\s]+)")
START_TIMEOUT_S = 30


class ServerProcess:
    """`python TASKS_FILE runserver --config CONFIG --port 0` in `cwd`."""

    def __init__(self, tasks_file: Path, cwd: Path, config: dict[str, Any] | None = None,
                 extra_args: tuple[str, ...] = (),
                 on_line: Callable[[str], None] | None = None) -> None:
        """`config` is written to `cwd/config.json` and passed with `--config`; None passes
        no `--config`, so the server looks for `config.json` itself. `on_line` is called with
        each line of output the moment it is read (in the thread that reads it)."""
        self.tasks_file, self.cwd = tasks_file, cwd
        self.config_args: list[str] = []
        if config is not None:
            path = cwd / "config.json"
            path.write_text(json.dumps(config))
            self.config_args = ["--config", str(path)]
        self.extra_args = extra_args
        self.on_line = on_line
        self.command = [sys.executable, str(tasks_file)]  # or the `deferred` command
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []
        self._reader: threading.Thread | None = None
        self._listening = threading.Event()

    def start(self) -> ServerProcess:
        """Start it and wait for its "listening on" line. Fails with its output if it exits."""
        return self.launch().wait_listening()

    def launch(self) -> ServerProcess:
        """Start the process without waiting for it (`wait_listening()` does), so that several
        servers can be started at the same moment."""
        env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [*self.command, "runserver", *self.config_args, "--port", "0", *self.extra_args],
            cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._listening = threading.Event()

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                if self.on_line is not None:
                    self.on_line(line)
                match = LISTENING.search(line)
                if match and not self.url:
                    self.url = match.group(1)
                    self._listening.set()

        self._reader = threading.Thread(target=read, name="server-output", daemon=True)
        self._reader.start()
        return self

    def wait_listening(self) -> ServerProcess:
        """Wait for the launched server's "listening on" line. Fails with its output if it
        exits first or takes longer than START_TIMEOUT_S."""
        assert self.process is not None and self._reader is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._listening.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._reader.join(2)
                raise AssertionError("the server did not start:\n" + "".join(self.output))
        return self

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """Send a request; return the status and the parsed JSON body."""
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        all_headers.update(headers or {})
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def submit(self, task_name: str, params: dict[str, Any], **extra: Any) -> int:
        """Submit without waiting; return the task id."""
        status, body = self.request("POST", "/api/tasks",
                                    {"task_name": task_name, "params": params, "wait": 0,
                                     **extra})
        assert status in (200, 202), body
        return int(body["task_id"])

    def task(self, task_id: int) -> dict[str, Any]:
        """The task record from the API."""
        status, body = self.request("GET", f"/api/tasks/{task_id}")
        assert status == 200, body
        return body

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait_exit(self, timeout_s: float = 30) -> int:
        """Wait for the process to end; return its exit status."""
        assert self.process is not None
        code = self.process.wait(timeout_s)
        self._close_output()
        return code

    def _close_output(self) -> None:
        if self._reader is not None:
            self._reader.join(5)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def stop(self) -> None:
        """Terminate, wait, then kill."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._close_output()

    @property
    def log(self) -> str:
        return "".join(self.output)
