"""The overview's Pause and Resume buttons: `POST /task-types/{name}/pause` and `.../resume`,
for admins (as the API's routes), each checked for its origin and CSRF token and audited."""

from __future__ import annotations

from typing import Any

import bottle

from ...interfaces import TaskService
from ..auth import current_actor
from ..task_type_routes import PAUSE_ROLE
from .navigation import redirect
from .renderer import PageRenderer


def add_pause_forms(app: bottle.Bottle, service: TaskService, renderer: PageRenderer) -> None:
    """Add the routes of the overview's pause and resume forms to the UI `app`."""
    forms = PauseForms(service, renderer)
    app.route("/task-types/<name>/pause", "POST", forms.pause, access=PAUSE_ROLE)
    app.route("/task-types/<name>/resume", "POST", forms.resume, access=PAUSE_ROLE)


class PauseForms:
    """The handlers: act, then back to the overview (an unknown name is an error page)."""

    def __init__(self, service: TaskService, renderer: PageRenderer) -> None:
        self._service, self._pages = service, renderer

    def pause(self, name: str) -> Any:
        """Pause the task type on every server: none of its tasks starts until resumed."""
        self._pages.posted_form()
        self._service.pause(name, current_actor())
        return redirect("/")

    def resume(self, name: str) -> Any:
        """Resume the task type: its queued tasks start."""
        self._pages.posted_form()
        self._service.resume(name, current_actor())
        return redirect("/")
