"""The API's routes that pause and resume a task type: `POST /api/task-types/{name}/pause`
and `.../resume`, for admins. Each answers the task type as `GET /api/task-types` lists it."""

from __future__ import annotations

from typing import Any

import bottle

from ..access.identity import Role
from ..config import HttpConfig
from ..interfaces import TaskService
from .auth import current_actor
from .representation import task_type_json
from .security import check_same_origin

PAUSE_ROLE = Role.ADMIN  # a pause stops every user's tasks of the type, on every server


def add_pause_routes(app: bottle.Bottle, service: TaskService, config: HttpConfig) -> None:
    """Add the pause and resume routes to the API `app`."""
    routes = PauseRoutes(service, config)
    app.route("/api/task-types/<name>/pause", "POST", routes.pause, access=PAUSE_ROLE)
    app.route("/api/task-types/<name>/resume", "POST", routes.resume, access=PAUSE_ROLE)


class PauseRoutes:
    """The handlers, over the `TaskService`."""

    def __init__(self, service: TaskService, config: HttpConfig) -> None:
        self._service, self._config = service, config

    def pause(self, name: str) -> Any:
        """`POST /api/task-types/{name}/pause`: nothing of it starts once this is answered
        (on every server); its queued tasks wait, its running ones finish."""
        check_same_origin(bottle.request.environ, self._config.public_url)
        return task_type_json(self._service.pause(name, current_actor()))

    def resume(self, name: str) -> Any:
        """`POST /api/task-types/{name}/resume`: its queued tasks start."""
        check_same_origin(bottle.request.environ, self._config.public_url)
        return task_type_json(self._service.resume(name, current_actor()))
