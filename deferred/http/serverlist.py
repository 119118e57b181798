"""`GET /api/servers`: every server of the database as JSON, and its operation in the OpenAPI
document. Pure functions, no bottle, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..servers import ServerRecord, ServerState
from .openapi_schemas import object_schema
from .representation import timestamp_json


def servers_json(servers: Sequence[ServerRecord], this_server_id: str) -> dict[str, Any]:
    """The answer of `GET /api/servers`; `this_server` marks the server answering."""
    return {"servers": [server_json(server, this_server_id) for server in servers]}


def server_json(server: ServerRecord, this_server_id: str) -> dict[str, Any]:
    """One server's row, its state and its running tasks."""
    return {
        "id": server.id, "host": server.host, "pid": server.pid, "version": server.version,
        "pool_size": server.pool_size, "started_at": timestamp_json(server.started_at),
        "heartbeat_at": timestamp_json(server.heartbeat_at),
        "heartbeat_age_s": round(server.heartbeat_age_s, 3),
        "running_tasks": server.running_tasks, "state": server.state.value,
        "this_server": server.id == this_server_id,
    }


def servers_operation(errors: dict[str, Any]) -> dict[str, Any]:
    """The `GET /api/servers` operation of the OpenAPI document, with its `errors`."""
    integer = {"type": "integer", "minimum": 0}
    time = {"type": "string", "format": "date-time"}
    server = object_schema(
        ["id", "host", "pid", "version", "pool_size", "started_at", "heartbeat_at",
         "heartbeat_age_s", "running_tasks", "state", "this_server"],
        id={"type": "string", "description": "The server's id, the `owner` of the task "
                                             "records it runs."},
        host={"type": "string"}, pid=integer, version={"type": "string"}, pool_size=integer,
        started_at=time, heartbeat_at=time,
        heartbeat_age_s={"type": "number", "minimum": 0,
                         "description": "Seconds since its last heartbeat."},
        running_tasks={**integer, "description": "Its records in status RUNNING."},
        state={"enum": [state.value for state in ServerState],
               "description": "`taken_for_dead`: no heartbeat for longer than db.lease_s."},
        this_server={"type": "boolean", "description": "The server that answers."})
    return {"operationId": "listServers",
            "summary": "The servers of the database: alive, stopping or taken for dead, "
                       "with their running tasks, oldest first.",
            "responses": dict(sorted({
                "200": {"description": "OK", "content": {"application/json": {
                    "schema": object_schema(["servers"], servers={"type": "array",
                                                                  "items": server})}}},
                **errors}.items()))}
