"""The web UI as a bottle app: the overview, the task list, a page per task and the launch
page, with HTML fragments the pages poll to stay live. Handlers close over a `TaskService`."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import types
import urllib.parse
from collections.abc import Callable
from typing import Any

import bottle

from ...access.audit import Actor
from ...bulk import BulkAction
from ...config import HttpConfig
from ...access.identity import Role
from ...errors import (BadRequestError, DeferredError, InternalError, InvalidParamsError,
                      NotFoundError, TooManyAttemptsError, UnauthorizedError, shown)
from ...interfaces import AccessStore, RecordReader, TaskService, TaskType
from ...jsontext import parse_json
from ...records import TaskRecord, TaskStatus
from ...scheduling.options import submit_options
from . import describe, pages
from .accesspages import AccessPages
from .dashboard import DashboardPages
from .bulkpages import BulkPages, forget_notice, is_list_path, notice_redirect
from .bulktext import single_counts
from ..auth import (PUBLIC, AccessPlugin, Authenticator, current_actor, current_principal,
                    refusal_response)
from .forms import build_form
from .formhtml import render_form
from ..listquery import ALL, FINISHED, parse_cursor, parse_status_filter, status_arguments
from .pauseforms import add_pause_forms
from .navigation import redirect
from .renderer import PageRenderer
from .serverpages import ServerPages
from .templates import STATIC_DIR, Templates, static_names

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
RECENT_SIZE = 10
MAX_SEARCH_CHARS = 200
NO_PARAMS_SCHEMA = types.MappingProxyType(
    {"type": "object", "properties": {}, "additionalProperties": False})
# The words of listquery.STATUS_FILTERS, the list's default first.
_STATUS_CHOICES = (FINISHED, ALL, *(status.value for status in TaskStatus))


@dataclasses.dataclass(frozen=True)
class TaskFilter:
    """The task list's filters, as the page's filter form sends them."""

    status: str = "finished"  # "finished", "all" or a status
    task_name: str = ""
    text: str = ""
    before_id: int | None = None

    def query(self, *, cursor: int | None = None) -> str:
        """The query string for these filters (and a cursor), without empty values."""
        values = {"status": self.status if self.status != "finished" else "",
                  "task_name": self.task_name, "q": self.text,
                  "cursor": str(cursor) if cursor else ""}
        return urllib.parse.urlencode({key: value for key, value in values.items() if value})

    @property
    def is_filtered(self) -> bool:
        """True when any filter narrows the default list."""
        return bool(self.status != "finished" or self.task_name or self.text)


def parse_task_filter(query: bottle.FormsDict) -> TaskFilter:
    """The filters of `/tasks?status=&task_name=&q=&cursor=`. Raises `BadRequestError`."""
    status = parse_status_filter((query.getunicode("status") or "").strip()) or FINISHED
    return TaskFilter(status=status, task_name=(query.getunicode("task_name") or "").strip(),
                      text=(query.getunicode("q") or "").strip()[:MAX_SEARCH_CHARS],
                      before_id=parse_cursor((query.getunicode("cursor") or "").strip()))


def make_ui_app(service: TaskService, records: RecordReader, access: AccessStore,
                config: HttpConfig, authenticator: Authenticator) -> bottle.Bottle:
    """A new bottle app serving the web UI's pages, fragments and static files. Each route
    names the role it needs (`access`; see `auth`)."""
    app = bottle.Bottle()
    app.uninstall(True)
    renderer = PageRenderer(Templates(), config, authenticator)
    access_pages = AccessPages(access, authenticator, renderer)
    dashboard = DashboardPages(service, records, renderer)
    server_pages = ServerPages(records, service.server_id, renderer)
    bulk = BulkPages(service, records, config, renderer, parse_task_filter)
    routes = UiRoutes(service, records, config, renderer, access_pages, dashboard,
                      server_pages, bulk)
    app.install(HtmlErrorPlugin(routes))
    app.install(AccessPlugin(authenticator, routes.refusal))  # inside: refusals as pages
    read, submit = Role.READ, Role.SUBMIT
    app.route("/", "GET", routes.overview, access=read)
    app.route("/ui/parts/overview", "GET", routes.overview_part, access=read)
    app.route("/ui/parts/stats", "GET", dashboard.stats_part, access=read)
    app.route("/task-types/<name>", "GET", dashboard.task_type_page, access=read)
    app.route("/ui/parts/task-type/<name>", "GET", dashboard.task_type_part, access=read)
    app.route("/ui/parts/task-type/<name>/recent", "GET", dashboard.task_type_recent,
              access=read)
    app.route("/tasks", "GET", routes.task_list, access=read)
    app.route("/ui/parts/tasks", "GET", routes.task_list_part, access=read)
    app.route("/tasks/<task_id:int>", "GET", routes.task_page, access=read)
    app.route("/ui/parts/task/<task_id:int>", "GET", routes.task_part, access=read)
    app.route("/servers", "GET", server_pages.servers_page, access=read)
    app.route("/ui/parts/servers", "GET", server_pages.servers_part, access=read)
    app.route("/tasks/<task_id:int>/result", "GET", routes.whole_result, access=read)
    app.route("/tasks/<task_id:int>/cancel", "POST", routes.cancel, access=submit)
    app.route("/tasks/<task_id:int>/retry", "POST", routes.retry, access=submit)
    app.route("/tasks/bulk", "POST", bulk.confirm, access=submit)  # delete: admin
    app.route("/tasks/bulk/apply", "POST", bulk.apply, access=submit)
    app.route("/launch", "GET", routes.launch_page, access=submit)
    app.route("/launch", "POST", routes.launch, access=submit)
    add_pause_forms(app, service, renderer)
    app.route("/audit", "GET", access_pages.audit_page, access=Role.ADMIN)
    app.route("/tokens", "GET", access_pages.tokens_page, access=Role.ADMIN)
    app.route("/tokens", "POST", access_pages.create_token, access=Role.ADMIN)
    app.route("/tokens/<name>/revoke", "POST", access_pages.revoke_token, access=Role.ADMIN)
    app.route("/login", "POST", access_pages.login, access=PUBLIC)  # answers 401 until it works
    app.route("/logout", "POST", access_pages.logout, access=read)
    app.route("/static/<name>", "GET", routes.static_file, access=PUBLIC)
    # Last: only what nothing else took.
    # Not under /api/ or /results/: there a GET on a POST-only path (/api/chains) must be 405
    # with `Allow: POST`, not a 404 that also puts GET in every 405's `Allow`.
    app.route("/<path:re:(?!api/|results/).+>", "GET", routes.unknown_page, access=read)
    return app


class HtmlErrorPlugin:
    """Wraps every UI route: a `DeferredError` becomes an error page with its status and
    code, anything else is logged with its traceback and shown as code 999."""

    name = "deferred_html_errors"
    api = 2

    def __init__(self, routes: UiRoutes) -> None:
        self._routes = routes

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        """Wrap one route's callback."""

        @functools.wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except DeferredError as exc:
                logger.info("%s %s: error %d: %s", bottle.request.method,
                            shown(bottle.request.path), exc.code, exc)
                return self._routes.error_page(exc)
            except Exception:
                logger.exception("bug while answering %s %s", bottle.request.method,
                                 shown(bottle.request.path))
                return self._routes.error_page(InternalError(
                    "internal error in deferred; the details are in the server log"))

        return wrapper


class UiRoutes:
    """The UI's handlers. Each renders a template; the `*_part` ones render only the live
    section of their page, for the page's script to swap in. A refused request gets the
    login form of `access_pages`."""

    def __init__(self, service: TaskService, records: RecordReader, config: HttpConfig,
                 renderer: PageRenderer, access_pages: AccessPages,
                 dashboard: DashboardPages, server_pages: ServerPages,
                 bulk: BulkPages) -> None:
        self._service, self._records, self._config = service, records, config
        self._dashboard, self._server_pages = dashboard, server_pages
        self._pages, self._access_pages, self._bulk = renderer, access_pages, bulk
        self._render = renderer.render
        self._static = static_names()

    def error_page(self, exc: DeferredError) -> bottle.HTTPResponse:
        """A page saying what went wrong, with the error's code and HTTP status; a 401 is
        the login form."""
        if isinstance(exc, (UnauthorizedError, TooManyAttemptsError)):
            return self._access_pages.login_page(exc)
        return self._render("error", exc.http_status, error=exc)

    def refusal(self, exc: DeferredError) -> bottle.HTTPResponse:
        """A request the access plugin refused: the login form (401) or an error page (403)
        for a browser, the API's JSON answer for anything else."""
        if "text/html" not in bottle.request.get_header("Accept", ""):
            return refusal_response(exc)
        if isinstance(exc, UnauthorizedError) and not exc.where:
            return self._access_pages.login_page(None)  # no credentials at all: just the form
        return self.error_page(exc)

    def _overview_values(self) -> dict[str, Any]:
        task_types = self._service.task_types()
        depths = self._records.queue_depths()
        return {
            "task_types": task_types,
            "usage": pages.usage_by_name(depths, task_types),
            "total": pages.total_usage(depths, self._service.global_limit),
            "running": self._records.list(status=TaskStatus.RUNNING, limit=PAGE_SIZE),
            "recent": self._records.list(limit=RECENT_SIZE, finished=True),
        }

    def overview(self) -> Any:
        """`GET /`: the statistics of the range asked for, task types with limits and
        usage, running tasks, the latest finished."""
        return self._render("overview", **self._overview_values(),
                            **self._dashboard.stats_values())

    def overview_part(self) -> Any:
        """The live section of the overview."""
        return self._render("overview_part", **self._overview_values())

    def _list_values(self) -> dict[str, Any]:
        task_filter = parse_task_filter(bottle.request.query)
        status, finished = status_arguments(task_filter.status)
        records = self._records.list(
            status=status, name=task_filter.task_name or None, limit=PAGE_SIZE + 1,
            before_id=task_filter.before_id, finished=finished, text=task_filter.text or None)
        older = records[PAGE_SIZE - 1].id if len(records) > PAGE_SIZE else None
        return {"records": records[:PAGE_SIZE], "filter": task_filter, "older": older,
                "task_names": [item.name for item in self._service.task_types()],
                "status_choices": _STATUS_CHOICES}

    def task_list(self) -> Any:
        """`GET /tasks`: one page of task records, filtered (finished ones by default), with
        the bulk actions' form and the message of the one just done."""
        values = self._list_values()
        viewer = current_principal()
        response = self._render("tasks", **values, **self._bulk.list_values(
            values["records"], values["filter"], values["older"],
            viewer is not None and viewer.may(Role.SUBMIT)))
        forget_notice(response)
        return response

    def task_list_part(self) -> Any:
        """The live section of the task list."""
        return self._render("tasks_part", **self._list_values())

    def _record(self, task_id: int) -> TaskRecord:
        return self._service.get(task_id)

    def _keep_until(self, record: TaskRecord) -> datetime.datetime | None:
        """When a finished record will be deleted (None: never, or not finished)."""
        kind = next((item for item in self._service.task_types() if item.name == record.name),
                    None)
        if kind is None or kind.keep_s is None or record.finished_at is None:
            return None
        return record.finished_at + datetime.timedelta(seconds=kind.keep_s)

    def task_page(self, task_id: int) -> Any:
        """`GET /tasks/{id}`: everything the record holds, and a cancel button while it
        has not finished."""
        record = self._record(task_id)
        return self._render("task", record=record, keep_until=self._keep_until(record),
                            server=self._server_pages.name_of(record.owner))

    def task_part(self, task_id: int) -> Any:
        """The live section of a task's page."""
        record = self._record(task_id)
        return self._render("task_part", record=record,
                               keep_until=self._keep_until(record),
                               server=self._server_pages.name_of(record.owner))

    def cancel(self, task_id: int) -> Any:
        """`POST /tasks/{id}/cancel` (the task page's button, or a row's in the task list):
        cancel, then back to where it was."""
        return self._act_on(task_id, self._service.cancel, BulkAction.CANCEL)

    def retry(self, task_id: int) -> Any:
        """`POST /tasks/{id}/retry` (the task page's button, or a row's): run it again, then
        back to where it was."""
        return self._act_on(task_id, self._service.retry, BulkAction.RETRY)

    def _act_on(self, task_id: int, action: Callable[[int, Actor], TaskRecord],
                kind: BulkAction) -> Any:
        fields = self._pages.posted_form()
        before = self._record(task_id)  # 404 for an unknown id
        after = action(task_id, current_actor())
        back = fields.get("next", "")
        if is_list_path(back):  # a row of the task list: back to it, with a message
            return notice_redirect(back, kind, single_counts(kind, before, after))
        return redirect(f"/tasks/{task_id}")

    def whole_result(self, task_id: int) -> Any:
        """`GET /tasks/{id}/result`: the whole result as plain text."""
        text = pages.result_text(self._record(task_id).result)
        return bottle.HTTPResponse(text.encode("utf-8"), 200, headers={
            "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"})

    def launch_page(self) -> Any:
        """`GET /launch?task=NAME`: pick a task type, then fill its form or type JSON."""
        name = (bottle.request.query.getunicode("task") or "").strip()
        return self._launch_form(name, params_text="", email="")

    def _launch_form(self, name: str, *, params_text: str, email: str, delay_s: str = "",
                     priority: str = "", error: DeferredError | None = None
                     ) -> bottle.HTTPResponse:
        task_types = self._service.task_types()
        chosen = next((item for item in task_types if item.name == name), None)
        if name and chosen is None:
            error = error or NotFoundError(f"no task type is named {name!r}", where="task")
        return self._render(
            "launch", 200 if error is None else error.http_status, task_types=task_types,
            chosen=chosen, form_html=launch_form_html(chosen), params_text=params_text,
            email=email, delay_s=delay_s, priority=priority, error=error)

    def launch(self) -> Any:
        """`POST /launch` (the raw-JSON form, which works without JavaScript): submit, then
        go to the task's page; on a mistake, the form again with the error beside its field."""
        fields = self._pages.posted_form()
        name, params_text = fields.get("task_name", "").strip(), fields.get("params", "")
        email = fields.get("email", "")
        delay_s = fields.get("delay_s", "").strip()
        priority = fields.get("priority", "").strip()
        try:
            params = parse_json(params_text, where="params") if params_text.strip() else {}
            if not isinstance(params, dict):
                raise InvalidParamsError("params must be a JSON object", where="$")
            options = submit_options(delay_s=form_number(delay_s, "delay_s"),
                                     priority=form_number(priority, "priority"))
            record = self._service.submit(name, params, email.strip() or None, options,
                                          actor=current_actor())
        except DeferredError as exc:
            return self._launch_form(name, params_text=params_text, email=email,
                                     delay_s=delay_s, priority=priority, error=exc)
        return redirect(f"/tasks/{record.id}")

    def unknown_page(self, path: str) -> Any:
        """Any other `GET`: a page saying so for a browser, the API's JSON 404 otherwise."""
        accept = bottle.request.get_header("Accept", "")
        if path.startswith(("api/", "results/")) or "text/html" not in accept:
            raise bottle.HTTPError(404)  # answered by the API's JSON error pages
        raise NotFoundError(f"no page at /{path}", where="path")

    def static_file(self, name: str) -> Any:
        """`GET /static/{name}`: the UI's stylesheet and scripts."""
        if name not in self._static:
            raise NotFoundError(f"no static file {name!r}", where="path")
        response = bottle.static_file(name, root=str(STATIC_DIR))
        response.set_header("Cache-Control", "no-cache")
        return response


def launch_form_html(task_type: TaskType | None) -> str:
    """The generated form of a task type's params (HTML built from escaped parts). Without a
    schema: "takes no params" when its run() takes none, else a JSON box saying what it
    takes."""
    if task_type is None:
        return ""
    if task_type.json_schema is not None:
        return render_form(build_form(task_type.json_schema), id_prefix="param")
    if task_type.run_params.takes_none:
        return render_form(build_form(NO_PARAMS_SCHEMA), id_prefix="param")
    box = dataclasses.replace(build_form(None), fallback=(
        f"the task has no schema; its run() {describe.run_params_text(task_type.run_params)}"))
    return render_form(box, id_prefix="param")


def form_number(text: str, field: str) -> int | float | None:
    """A number typed in a form field, None when empty. Raises `BadRequestError`."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadRequestError(f"{text!r} is not a number", where=field) from None
    return int(value) if value.is_integer() and "." not in text else value
