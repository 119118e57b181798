"""The task list's bulk actions: the list's form (a box per row, all on the page, or all
that match the filter) posts to a confirmation page that says how many tasks the action will
change; confirming acts (in batches, through the service) and goes back to the list with a
message. Plain HTML forms with the CSRF token: it all works without JavaScript."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import bottle

from ...bulk import MAX_BULK_IDS, BulkAction, BulkCounts, TaskSelection
from ...config import HttpConfig
from ...errors import BadRequestError
from ...interfaces import RecordReader, TaskService
from ...records import MAX_TASK_ID, TaskRecord, TaskStatus
from ..auth import current_actor
from ..bulkrequest import check_bulk_role, parse_action
from ..jsonbody import read_body
from ..security import CSRF_FIELD, check_csrf, check_same_origin
from . import bulktext
from .navigation import redirect
from .renderer import PageRenderer

NOTICE_COOKIE = "deferred_notice"
NOTICE_MAX_AGE_S = 60  # read by the list page the browser goes to next
COUNT_AT_MOST = 1_000  # the list says "all 1,000+ that match"; the confirmation counts all
FILTER_FIELDS = ("status", "task_name", "q")


class ListFilter(Protocol):
    """The task list's filters (`deferred.http.ui.TaskFilter`)."""

    status: str
    task_name: str
    text: str
    before_id: int | None

    def query(self, *, cursor: int | None = None) -> str: ...


def filter_selection(task_filter: ListFilter) -> TaskSelection:
    """The records the task list shows for `task_filter`, on every page."""
    status = task_filter.status
    return TaskSelection(status=TaskStatus(status) if status in TaskStatus.__members__ else None,
                         finished=status == "finished", name=task_filter.task_name or None,
                         text=task_filter.text or None)


class BulkPages:
    """The confirmation page and the action itself; what the task list shows of them (the
    count of all that match, the message after an action)."""

    def __init__(self, service: TaskService, records: RecordReader, config: HttpConfig,
                 renderer: PageRenderer,
                 parse_filter: Callable[[bottle.FormsDict], ListFilter]) -> None:
        self._service, self._records, self._config = service, records, config
        self._pages, self._parse_filter = renderer, parse_filter

    def confirm(self) -> Any:
        """`POST /tasks/bulk` (the list's form): how many tasks the action will change, and
        the button that does it."""
        action, selection, task_filter, by_filter = self._posted()
        preview = self._records.bulk_preview(action, selection)
        ids = ",".join(str(task_id) for task_id in sorted(selection.ids or ()))
        return self._pages.render(
            "bulk_confirm", action=action, preview=preview, by_filter=by_filter, ids=ids,
            filter=task_filter, title=bulktext.TITLES[action], rule=bulktext.RULES[action],
            warning=bulktext.WARNINGS.get(action),
            filter_words=bulktext.filter_words(task_filter.status, task_filter.task_name,
                                               task_filter.text),
            tasks_text=bulktext.tasks_text, back=task_filter.query())

    def apply(self) -> Any:
        """`POST /tasks/bulk/apply` (the confirmation's button): act, then back to the list
        with `10 tasks retried, 2 skipped`."""
        action, selection, task_filter, _ = self._posted()
        counts = self._service.bulk(action, selection, current_actor())
        return notice_redirect(list_path(task_filter.query()), action, counts)

    def _posted(self) -> tuple[BulkAction, TaskSelection, ListFilter, bool]:
        """The action, the selection, the list's filters and whether it goes by them, from
        a post whose origin and CSRF token are checked; the role the action needs too."""
        environ = bottle.request.environ
        check_same_origin(environ, self._config.public_url)
        fields = urllib.parse.parse_qs(read_body(environ, self._config.max_body_bytes)
                                       .decode("utf-8", "replace"), keep_blank_values=True)
        check_csrf(bottle.request.cookies, _first(fields, CSRF_FIELD))
        action = parse_action(_first(fields, "action") or None)
        check_bulk_role(action)
        filters = bottle.FormsDict()
        filters.recode_unicode = False  # already text: parse_qs decoded the body
        for name in FILTER_FIELDS:
            filters[name] = _first(fields, name)
        task_filter = self._parse_filter(filters)
        if _first(fields, "scope") == "matching":
            return action, filter_selection(task_filter), task_filter, True
        ids = _posted_ids([*fields.get("ids", ()), *fields.get("page_ids", ())])
        return action, TaskSelection(ids=ids), task_filter, False

    def list_values(self, records: list[TaskRecord], task_filter: ListFilter,
                    older: int | None, can_submit: bool) -> dict[str, Any]:
        """What the task list shows of bulk actions: how many tasks match its filters (None
        for a viewer who cannot act; `COUNT_AT_MOST + 1` means more) and the message of
        the action just done (None if there is none)."""
        notice = bulktext.notice_text(bottle.request.cookies.get(NOTICE_COOKIE, ""))
        matching = None
        if can_submit:
            if older is None and task_filter.before_id is None:
                matching = len(records)  # all of them are on this page
            else:
                matching = self._records.count(filter_selection(task_filter),
                                               at_most=COUNT_AT_MOST + 1)
        return {"notice": notice, "matching": matching, "count_at_most": COUNT_AT_MOST}


def forget_notice(response: bottle.BaseResponse) -> None:
    """The message is shown once: drop its cookie."""
    if NOTICE_COOKIE in bottle.request.cookies:
        response.delete_cookie(NOTICE_COOKIE, path="/")


def notice_redirect(path: str, action: BulkAction, counts: BulkCounts) -> bottle.HTTPResponse:
    """303 to `path`, with the message of what `action` did for the page to show once."""
    response = redirect(path)
    response.set_cookie(NOTICE_COOKIE, bulktext.notice_value(action, counts), path="/",
                        max_age=NOTICE_MAX_AGE_S, httponly=True, samesite="strict")
    return response


def list_path(query: str) -> str:
    """The task list with these filters."""
    return "/tasks" + (f"?{query}" if query else "")


def is_list_path(path: str) -> bool:
    """True for a path of the task list (what a row's buttons come back to), no other."""
    parts = urllib.parse.urlsplit(path)
    return (parts.path == "/tasks" and not parts.scheme and not parts.netloc
            and "\\" not in path and path.isprintable())


def _first(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


def _posted_ids(values: list[str]) -> tuple[int, ...]:
    """The ids of the checked rows (`ids`, one each) and of a checked page (`page_ids`,
    comma-separated). Raises `BadRequestError`."""
    ids: set[int] = set()
    for value in values:
        for text in filter(None, (part.strip() for part in value.split(","))):
            if not (text.isascii() and text.isdigit() and len(text) <= 19) \
                    or not 1 <= int(text) <= MAX_TASK_ID:
                raise BadRequestError(f"{text[:40]!r} is not a task id", where="ids")
            ids.add(int(text))
    if not ids:
        raise BadRequestError("no task is selected: tick the tasks to act on, or all that "
                              "match the filter", where="ids")
    if len(ids) > MAX_BULK_IDS:
        raise BadRequestError(f"{len(ids)} tasks are selected, more than {MAX_BULK_IDS}: "
                              "choose all that match the filter instead", where="ids")
    return tuple(sorted(ids))

