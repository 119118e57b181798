"""The JSON API as a bottle app: submit, read and list task records, task types, result
files and health. Handlers close over a `TaskService` and never touch SQL or SMTP."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

import bottle

from ..config import HttpConfig
from ..access.identity import Role
from ..errors import (BadRequestError, DeferredError, InternalError, InvalidJsonError,
                      NotFoundError, ShuttingDownError, StoreUnavailableError,
                      UnknownTaskError)
from ..scheduling.options import submit_options
from ..interfaces import AccessStore, RecordReader, TaskService
from .jsonbody import (check_json_content_type, not_json_error, parse_chain, parse_submit,
                       parse_token_request, read_body, wait_seconds)
from .jsonerrors import JsonErrorPlugin, error_headers, install_error_pages, json_response
from .auth import (CAPABILITY, PUBLIC, AccessPlugin, Authenticator, current_actor,
                   refusal_response)
from .bulkrequest import bulk_json, check_bulk_role, parse_bulk
from .listquery import next_cursor, parse_audit_query, parse_list_query
from .openapi import build_openapi, package_version
from ..links import request_base_url, task_url
from .representation import (accepted_answer, audit_json, content_disposition, record_json,
                             submit_answer, task_types_json, timestamp_json)
from .security import check_same_origin
from .serverlist import servers_json
from .statsjson import parse_range, single_value, stats_json
from .task_type_routes import add_pause_routes

logger = logging.getLogger(__name__)

DEFAULT_MAX_WAITING = 24


def make_api_app(service: TaskService, records: RecordReader, access: AccessStore,
                 config: HttpConfig, authenticator: Authenticator, *,
                 max_waiting: int = DEFAULT_MAX_WAITING) -> bottle.Bottle:
    """A new bottle app serving the JSON API (see docs/http-api.md).

    Each route names the role it needs (`access`; see `auth`). At most `max_waiting` submits
    wait for their results at once; others get their 202 at once, so waiting submits never
    take every request thread.
    """
    app = bottle.Bottle()
    # bottle's `int` is `-?\d+`, and `\d` takes any script's digits: /api/tasks/٣ was task 3.
    app.router.add_filter("int", lambda _: (r"-?[0-9]+", int, lambda x: str(int(x))))
    app.uninstall(True)  # bottle's JSON and template plugins: our plugin answers in JSON
    app.install(JsonErrorPlugin())
    app.install(AccessPlugin(authenticator, refusal_response))  # inside: refusals as JSON
    install_error_pages(app, config.max_body_bytes)
    routes = ApiRoutes(service, records, access, config, max_waiting, authenticator)
    app.route("/api/tasks", "POST", routes.submit, access=Role.SUBMIT)
    app.route("/", "POST", routes.submit, access=Role.SUBMIT)
    app.route("/api/tasks/<task_id:int>", "GET", routes.get_task, access=Role.READ)
    app.route("/api/tasks/<task_id:int>/cancel", "POST", routes.cancel_task,
              access=Role.SUBMIT)
    app.route("/api/tasks/<task_id:int>/retry", "POST", routes.retry_task, access=Role.SUBMIT)
    app.route("/api/tasks/bulk", "POST", routes.bulk_tasks, access=Role.SUBMIT)  # delete: admin
    app.route("/api/chains", "POST", routes.submit_chain, access=Role.SUBMIT)
    app.route("/api/tasks", "GET", routes.list_tasks, access=Role.READ)
    app.route("/api/task-types", "GET", routes.task_types, access=Role.READ)
    app.route("/api/stats", "GET", routes.stats, access=Role.READ)
    app.route("/api/servers", "GET", routes.list_servers, access=Role.READ)
    add_pause_routes(app, service, config)
    app.route("/api/audit", "GET", routes.audit_log, access=Role.ADMIN)
    app.route("/api/tokens", "GET", routes.list_tokens, access=Role.ADMIN)
    app.route("/api/tokens", "POST", routes.create_token, access=Role.ADMIN)
    app.route("/api/tokens/<name>", "DELETE", routes.revoke_token, access=Role.ADMIN)
    app.route("/results/<token>", "GET", routes.result_file, access=CAPABILITY)
    app.route("/healthz", "GET", routes.health, access=PUBLIC)
    app.route("/metrics", "GET", routes.metrics, access=Role.READ)
    app.route("/api/openapi.json", "GET", routes.openapi, access=Role.READ)
    return app


class ApiRoutes:
    """The API's handlers, over a `TaskService` (what changes tasks) and a `RecordReader`
    (what only reads the store). A dict they return is answered as JSON with 200 and a
    `DeferredError` they raise in the error shape (by `JsonErrorPlugin`)."""

    def __init__(self, service: TaskService, records: RecordReader, access: AccessStore,
                 config: HttpConfig, max_waiting: int, authenticator: Authenticator) -> None:
        self._service, self._records, self._access = service, records, access
        self._config, self._auth = config, authenticator
        self._waiting = threading.BoundedSemaphore(max_waiting)

    def _base_url(self) -> str:
        return request_base_url(bottle.request.environ, self._config.public_url)

    def submit(self) -> Any:
        """`POST /api/tasks`: store a task; wait for it unless it has an email."""
        environ = bottle.request.environ
        check_same_origin(environ, self._config.public_url)
        content_type = environ.get("CONTENT_TYPE", "")
        declared_json = check_json_content_type(content_type)
        body = read_body(environ, self._config.max_body_bytes)
        try:
            request = parse_submit(body)
        except InvalidJsonError:
            if declared_json:
                raise
            raise not_json_error(content_type) from None
        options = request.options
        header_key = environ.get("HTTP_IDEMPOTENCY_KEY")
        if header_key is not None:
            if options.idempotency_key not in (None, header_key):
                raise BadRequestError("the Idempotency-Key header and the body's "
                                      "idempotency_key differ", where="Idempotency-Key")
            options = dataclasses.replace(options, idempotency_key=submit_options(
                idempotency_key=header_key).idempotency_key)
        record = self._service.submit(request.task_name, request.params, request.email,
                                      options, actor=current_actor())
        logger.debug("task %d (%s) submitted over HTTP", record.id, record.name)
        if request.email is not None:
            return accepted_answer(record)
        wait_s = wait_seconds(request.wait_s, self._config.sync_wait_s)
        if wait_s > 0 and self._waiting.acquire(blocking=False):
            try:
                record = self._service.wait(record.id, wait_s)
            finally:
                self._waiting.release()
        status, answer, headers = submit_answer(record, self._base_url())
        return json_response(answer, status, headers)

    def get_task(self, task_id: int) -> Any:
        """`GET /api/tasks/{id}`: one task record."""
        return record_json(self._service.get(task_id), self._base_url())

    def cancel_task(self, task_id: int) -> Any:
        """`POST /api/tasks/{id}/cancel`: cancel a queued task, or ask a running one to stop;
        the record afterwards."""
        check_same_origin(bottle.request.environ, self._config.public_url)
        return record_json(self._service.cancel(task_id, current_actor()), self._base_url())

    def submit_chain(self) -> Any:
        """`POST /api/chains`: `{"steps": [{"task_name", "params"}, ...], "email"?}`; each
        step starts once the one before succeeded. Answers the first task's id at once."""
        environ = bottle.request.environ
        check_same_origin(environ, self._config.public_url)
        check_json_content_type(environ.get("CONTENT_TYPE", ""))
        steps, email = parse_chain(read_body(environ, self._config.max_body_bytes))
        record = self._service.submit_chain(steps, email, actor=current_actor())
        return {"status": "OK", "task_id": record.id,
                "url": task_url(self._base_url(), record.id)}

    def retry_task(self, task_id: int) -> Any:
        """`POST /api/tasks/{id}/retry`: queue a failed or cancelled task again."""
        check_same_origin(bottle.request.environ, self._config.public_url)
        return record_json(self._service.retry(task_id, current_actor()), self._base_url())

    def bulk_tasks(self) -> Any:
        """`POST /api/tasks/bulk` `{"action", "ids" | "filter"}`: cancel, retry or delete
        many tasks, in batches; how many matched, changed and were skipped."""
        environ = bottle.request.environ
        check_same_origin(environ, self._config.public_url)
        check_json_content_type(environ.get("CONTENT_TYPE", ""))
        action, selection = parse_bulk(read_body(environ, self._config.max_body_bytes))
        check_bulk_role(action)
        return bulk_json(action, self._service.bulk(action, selection, current_actor()))

    def list_tasks(self) -> Any:
        """`GET /api/tasks`: one page of records, newest first, with the next cursor."""
        query = parse_list_query(bottle.request.environ.get("QUERY_STRING", ""))
        records = self._records.list(status=query.status, name=query.task_name,
                                     limit=query.limit + 1, before_id=query.before_id,
                                     finished=query.finished)
        base = self._base_url()
        return {"tasks": [record_json(record, base) for record in records[:query.limit]],
                "next_cursor": next_cursor(records, query.limit)}

    def task_types(self) -> Any:
        """`GET /api/task-types`: the registered tasks and the limits."""
        return task_types_json(self._service.task_types(), self._service.global_limit)

    def stats(self) -> Any:
        """`GET /api/stats?range=&task_name=`: the dashboard's statistics as JSON."""
        query = bottle.request.query
        stats_range = parse_range(query)
        name = (single_value(query, "task_name") or "").strip() or None
        known = [item.name for item in self._service.task_types()]
        if name is not None and name not in known:
            raise UnknownTaskError(f"unknown task {name!r}; known tasks: "
                                   f"{', '.join(known) or 'none'}", where="task_name")
        return stats_json(self._records.stats_view(stats_range, name))

    def list_servers(self) -> Any:
        """`GET /api/servers`: every server of the database, alive or not."""
        return servers_json(self._records.servers(), self._service.server_id)

    def audit_log(self) -> Any:
        """`GET /api/audit?limit=&cursor=&task_id=`: the audit log, newest first."""
        query = parse_audit_query(bottle.request.environ.get("QUERY_STRING", ""))
        entries = self._access.audit_entries(limit=query.limit + 1, before_id=query.before_id,
                                              task_id=query.task_id)
        return {"entries": [audit_json(entry) for entry in entries[:query.limit]],
                "next_cursor": str(entries[query.limit - 1].id) if len(entries) > query.limit
                else None}

    def list_tokens(self) -> Any:
        """`GET /api/tokens`: every API token by name and role (never a hash)."""
        return {"tokens": [{**item, "created_at": timestamp_json(item["created_at"])}
                           for item in self._auth.token_list()]}

    def create_token(self) -> Any:
        """`POST /api/tokens` `{"name", "role"}`: a new token, stored by its hash; the answer
        holds the token, the one time it is shown."""
        environ = bottle.request.environ
        check_same_origin(environ, self._config.public_url)
        check_json_content_type(environ.get("CONTENT_TYPE", ""))
        name, role = parse_token_request(read_body(environ, self._config.max_body_bytes))
        token = self._auth.create_token(name, role, current_actor())
        return json_response({"status": "OK", "name": name, "role": role, "token": token},
                             201, {"Cache-Control": "no-store"})

    def revoke_token(self, name: str) -> Any:
        """`DELETE /api/tokens/{name}`: the stored token stops working at once."""
        check_same_origin(bottle.request.environ, self._config.public_url)
        self._auth.revoke_token(name, current_actor())
        return {"status": "OK", "name": name}

    def result_file(self, token: str) -> Any:
        """`GET /results/{token}`: a result file, as an attachment."""
        found = self._records.read_file(token)
        if found is None:
            raise NotFoundError("no result file answers to this link", where="token")
        stored, data = found
        return bottle.HTTPResponse(data, 200, headers={
            "Content-Type": stored.content_type or "application/octet-stream",
            "Content-Disposition": content_disposition(stored.name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=0",
        })

    def metrics(self) -> Any:
        """`GET /metrics`: Prometheus' text format, straight from the server."""
        return bottle.HTTPResponse(self._service.metrics_text().encode("utf-8"), 200, headers={
            "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
            "Cache-Control": "no-store"})

    def openapi(self) -> Any:
        """`GET /api/openapi.json`: the OpenAPI document of this API and its task types."""
        return build_openapi(self._service.task_types(), self._config,
                             base_url=self._base_url(), version=package_version())

    def health(self) -> Any:
        """`GET /healthz`: 200 while the server takes work and its database answers, else
        503; `server` and `store` say which part is wrong."""
        health = self._service.health()
        server = ("stopping" if health.stopping else
                  "running" if health.dispatcher_alive else "dispatcher stopped")
        store = ("unreachable" if not health.store_reachable else
                 "unable to write" if health.store_write_failure is not None else "reachable")
        parts = {"server_id": self._service.server_id, "server": server, "store": store}
        if health.is_healthy:
            return {"status": "OK", **parts}
        problem: DeferredError
        if health.stopping:
            problem = ShuttingDownError("the server is stopping: it takes no new work")
        elif not health.store_reachable:  # the cause is in the server's log, not for clients
            problem = StoreUnavailableError("the database does not answer; see the server log")
        elif health.store_write_failure is not None:
            problem = health.store_write_failure
        else:
            problem = InternalError("the dispatcher thread has stopped: no task starts; see "
                                    "the server log")
        return json_response({**problem.to_json(), **parts}, 503, error_headers(problem))
