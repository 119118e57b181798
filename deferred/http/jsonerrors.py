"""JSON answers for a bottle app: the plugin that turns `DeferredError`s into the spec's error
shape, and error pages (404, 405, 413, 500, ...) in the same shape. No traceback ever leaves."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import bottle

from ..errors import (BadRequestError, DeferredError, InternalError, MethodNotAllowedError,
                      NotFoundError, UnsupportedMediaTypeError, shown)
from .jsonbody import too_large
from .representation import json_bytes

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
INTERNAL_MESSAGE = "internal error in deferred; the details are in the server log"


def json_response(body: Mapping[str, Any], status: int = 200,
                  headers: Mapping[str, str] | None = None) -> bottle.HTTPResponse:
    """A JSON answer with its status and headers."""
    response = bottle.HTTPResponse(json_bytes(body), status, headers=dict(headers or {}))
    response.content_type = JSON_CONTENT_TYPE
    return response


def error_headers(exc: DeferredError) -> dict[str, str]:
    """The headers an error's answer carries: `Retry-After` when trying later may work (the
    server is shutting down)."""
    return {} if exc.retry_after_s is None else {"Retry-After": str(exc.retry_after_s)}


def error_response(exc: DeferredError) -> bottle.HTTPResponse:
    """`{"status": "ERROR", "error_code", "error_msg"}` with the error's HTTP status (and
    its `error_headers`)."""
    return json_response(exc.to_json(), exc.http_status, error_headers(exc))


class JsonErrorPlugin:
    """Wraps every route: a dict becomes a JSON answer, a `DeferredError` its error answer,
    and any other exception is logged with its traceback and answered as code 999."""

    name = "deferred_json_errors"
    api = 2

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        """Wrap one route's callback."""

        @functools.wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                out = callback(*args, **kwargs)
                return json_response(out) if isinstance(out, dict) else out
            except bottle.HTTPResponse:
                raise  # bottle's own control flow (abort, redirect): its error pages answer
            except DeferredError as exc:
                logger.info("%s %s: error %d: %s", bottle.request.method,
                            shown(bottle.request.path), exc.code, exc)
                return error_response(exc)
            except Exception:
                logger.exception("bug while answering %s %s", bottle.request.method,
                                 shown(bottle.request.path))
                return error_response(InternalError(INTERNAL_MESSAGE))

        return wrapper


def install_error_pages(app: bottle.Bottle, max_body_bytes: int) -> None:
    """Answer bottle's own errors (no route, wrong method, a crash outside a route, ...) in
    the JSON error shape instead of its HTML pages."""
    pages = ErrorPages(max_body_bytes)
    for status, page in ((400, pages.other), (404, pages.not_found),
                         (405, pages.method_not_allowed), (413, pages.request_too_large),
                         (415, pages.unsupported_media_type), (500, pages.internal)):
        app.error(status)(page)
    app.default_error_handler = pages.other  # type: ignore[method-assign]


class ErrorPages:
    """bottle error handlers: each gets bottle's `HTTPError` and answers JSON bytes."""

    def __init__(self, max_body_bytes: int) -> None:
        self._max_body_bytes = max_body_bytes

    def not_found(self, error: bottle.HTTPError) -> bytes:
        """404: no route for that path."""
        request = bottle.request
        return _answer(NotFoundError(f"no route for {request.method} {shown(request.path)}"))

    def method_not_allowed(self, error: bottle.HTTPError) -> bytes:
        """405: the route exists for other methods (bottle sets the `Allow` header)."""
        request = bottle.request
        allowed = ", ".join(method.strip()
                            for method in (error.get_header("Allow") or "").split(","))
        return _answer(MethodNotAllowedError(
            f"{request.method} is not allowed on {shown(request.path)} (allowed: {allowed})"))

    def request_too_large(self, error: bottle.HTTPError) -> bytes:
        """413: the body is over `http.max_body_bytes`."""
        length = bottle.request.content_length
        return _answer(too_large(self._max_body_bytes, length if length >= 0 else None))

    def unsupported_media_type(self, error: bottle.HTTPError) -> bytes:
        """415: the body is not declared as JSON."""
        return _answer(UnsupportedMediaTypeError(
            "the body must be declared as JSON (Content-Type: application/json)"))

    def internal(self, error: bottle.HTTPError) -> bytes:
        """500: a crash outside a route's plugin; logged, answered without details."""
        if error.exception is not None:
            exc = error.exception
            logger.error("bug while answering %s %s", bottle.request.method,
                         shown(bottle.request.path), exc_info=(type(exc), exc, exc.__traceback__))
        return _answer(InternalError(INTERNAL_MESSAGE))

    def other(self, error: bottle.HTTPError) -> bytes:
        """Any other status bottle answers with: code 100 for a 4xx (keeping bottle's status,
        e.g. 411), 999 for a 5xx."""
        if error.status_code >= 500:
            return self.internal(error)
        reason = error.body if isinstance(error.body, str) and error.body else error.status
        bottle.response.content_type = JSON_CONTENT_TYPE
        return json_bytes(BadRequestError(str(reason)).to_json())


def _answer(exc: DeferredError) -> bytes:
    bottle.response.status = exc.http_status
    bottle.response.content_type = JSON_CONTENT_TYPE
    return json_bytes(exc.to_json())
