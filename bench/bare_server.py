"""The ceiling of the HTTP benchmark: a bare bottle app on waitress that reads the JSON body
of `POST /api/tasks` and answers 202 with a task id, nothing else. Run as a process:

    python -m bench.bare_server

It prints `listening on http://127.0.0.1:PORT` once it listens, like `runserver`, and runs
with as many request threads as `runserver` (32) until SIGTERM ends it.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading

import bottle
import waitress

from deferred.server import HTTP_THREADS


def make_app() -> bottle.Bottle:
    app = bottle.Bottle()
    ids = itertools.count(1)
    lock = threading.Lock()

    @app.post("/api/tasks")
    def submit() -> str:
        body = json.loads(bottle.request.body.read() or b"{}")
        with lock:
            task_id = next(ids)
        bottle.response.status = 202
        bottle.response.content_type = "application/json"
        return json.dumps({"task_id": task_id, "task_name": body.get("task_name"),
                           "status": "QUEUED"})

    return app


def main() -> int:
    server = waitress.create_server(make_app(), host="127.0.0.1", port=0,
                                    threads=HTTP_THREADS, ident="bare")
    print(f"listening on http://127.0.0.1:{server.effective_port}", flush=True)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
