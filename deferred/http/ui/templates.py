"""The UI's HTML templates (bottle's SimpleTemplate, escaping by default) and static files,
found from the package directory, never the working directory."""

from __future__ import annotations

import datetime
import logging
import threading
from pathlib import Path
from typing import Any

import bottle

from . import describe, listing, pages

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"


class Templates:
    """Renders `templates/NAME.tpl` with the values every page shares (`root`, `now`, and the
    helpers of `pages` as `ui`, of `listing` and of `describe`). Compiled templates are kept
    for the life of the app."""

    def __init__(self) -> None:
        self._compiled: dict[str, bottle.SimpleTemplate] = {}
        self._lock = threading.Lock()

    def render(self, name: str, root: str, **values: Any) -> str:
        """The template's HTML. `root` is the app's mount point ("" at the top)."""
        return self._template(name).render(
            root=root, now=datetime.datetime.now(datetime.timezone.utc), ui=pages,
            listing=listing, describe=describe, **values)

    def _template(self, name: str) -> bottle.SimpleTemplate:
        with self._lock:
            template = self._compiled.get(name)
            if template is None:
                template = bottle.SimpleTemplate(name=name, lookup=[str(TEMPLATE_DIR)])
                self._compiled[name] = template
            return template


def html_response(body: str, status: int = 200) -> bottle.HTTPResponse:
    """A page or fragment that no cache keeps (its content is live)."""
    return bottle.HTTPResponse(body.encode("utf-8"), status, headers={
        "Content-Type": HTML_CONTENT_TYPE, "Cache-Control": "no-store"})


def static_names() -> frozenset[str]:
    """The files under `static/`, by name: nothing else is ever served from there."""
    return frozenset(path.name for path in STATIC_DIR.iterdir() if path.is_file())
