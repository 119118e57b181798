"""The dashboard's pages: the overview's charts and per task type statistics (a live fragment
of their own), and a page per task type with its schema, limits, schedule, statistics and
recent tasks."""

from __future__ import annotations

from typing import Any

import bottle

from ...errors import NotFoundError
from ...interfaces import RecordReader, TaskService, TaskType
from ...stats import RANGES, StatsView
from ..statsjson import parse_range
from . import charts, pages
from .renderer import PageRenderer

RECENT_OF_TYPE = 20


class DashboardPages:
    """The handlers of the statistics: `stats_part` for the overview, `task_type_page` and
    its live part."""

    def __init__(self, service: TaskService, records: RecordReader,
                 renderer: PageRenderer) -> None:
        self._service, self._records, self._render = service, records, renderer.render

    def _task_type(self, name: str) -> TaskType:
        found = next((item for item in self._service.task_types() if item.name == name), None)
        if found is None:
            raise NotFoundError(f"no task type is named {name!r}", where="name")
        return found

    def stats_values(self, *, name: str | None = None, base: str = "/") -> dict[str, Any]:
        """What the statistics section shows: the range and task type the query asks for
        (or `name`), its charts and the per type table."""
        query = bottle.request.query
        stats_range = parse_range(query)
        pick_name = name is None
        if pick_name:
            name = (query.getunicode("task_name") or "").strip() or None
        known = [item.name for item in self._service.task_types()]
        if name is not None and name not in known:
            raise NotFoundError(f"no task type is named {name!r}", where="task_name")
        view = self._records.stats_view(stats_range, name)
        return {"view": view, "charts": charts.charts(view), "ranges": list(RANGES.values()),
                "names": known if name is None else [name], "pick_name": pick_name,
                "base": base, "stats_src": _stats_src(view, pick_name, base)}

    def stats_part(self) -> Any:
        """`GET /ui/parts/stats?range=&task_name=`: the overview's live statistics."""
        return self._render("stats_part", **self.stats_values())

    def _type_values(self, name: str) -> dict[str, Any]:
        task_type = self._task_type(name)
        counts = self._records.pending_counts()
        base = f"/task-types/{pages.path_part(name)}"
        return {"task_type": task_type,
                "usage": pages.usage_by_name(counts, [task_type])[name],
                "recent": self._records.list(name=name, limit=RECENT_OF_TYPE),
                **self.stats_values(name=name, base=base)}

    def task_type_page(self, name: str) -> Any:
        """`GET /task-types/{name}`: a task type's description, params, limit, schedule,
        statistics and recent tasks."""
        return self._render("task_type", **self._type_values(name))

    def task_type_part(self, name: str) -> Any:
        """The live statistics of a task type's page."""
        self._task_type(name)
        return self._render("task_type_part", **self.stats_values(
            name=name, base=f"/task-types/{pages.path_part(name)}"))

    def task_type_recent(self, name: str) -> Any:
        """The live list of a task type's recent tasks."""
        self._task_type(name)
        return self._render("task_type_recent",
                            recent=self._records.list(name=name, limit=RECENT_OF_TYPE))


def _stats_src(view: StatsView, pick_name: bool, base: str) -> str:
    """The URL the statistics section polls to stay live."""
    query = pages.stats_query(view.range.key, view.name if pick_name else None)
    if pick_name:
        return "/ui/parts/stats" + query
    return "/ui/parts" + base.replace("/task-types/", "/task-type/", 1) + query
