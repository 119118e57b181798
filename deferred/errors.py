"""The one tree of errors deferred reports to its users, with stable codes.

Every user mistake is a `DeferredError` subclass carrying an `ErrorCode` that never changes
meaning, an HTTP status for the API, and a one-line message saying what was wrong and where.
docs/errors.md lists the same codes; a unit test keeps the two in step.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class ErrorCode(enum.IntEnum):
    """Stable numeric error codes. Never renumber or reuse one; add new ones at the end."""

    BAD_REQUEST = 100
    UNKNOWN_TASK = 101
    INVALID_PARAMS = 102
    INVALID_JSON = 103
    NOT_FOUND = 104
    REQUEST_TOO_LARGE = 105
    UNSUPPORTED_MEDIA_TYPE = 106
    METHOD_NOT_ALLOWED = 107
    TASK_FAILED = 200
    INVALID_RESULT = 201
    TASK_DEFINITION = 300
    INVALID_SCHEMA = 301
    CONFIG = 302
    SERVER_ALREADY_RUNNING = 303
    DATABASE_VERSION = 304
    RESULT_OUTPUT = 400
    STORE_UNAVAILABLE = 500
    STORE_FULL = 501
    SHUTTING_DOWN = 502
    NO_SERVER = 503
    INVALID_EMAIL = 108
    MAIL_DELIVERY = 600
    STORE_REJECTED = 504
    CROSS_ORIGIN = 109
    UNAUTHORIZED = 110
    FORBIDDEN = 111
    TOO_MANY_ATTEMPTS = 112
    TASK_CANCELLED = 202
    TASK_PROCESS = 203
    NOT_IN_TASK = 204
    INTERNAL = 999


def one_line(exc: BaseException) -> str:
    """An exception's message on one line, for logs and answers."""
    return " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def shown(text: str) -> str:
    """Text from a request as a message or a log line shows it: as it is when printable, else
    with Python's escapes (no quotes), so that no request can break or forge a line."""
    return text if text.isprintable() else repr(text)[1:-1]


class DeferredError(Exception):
    """Base of every error deferred reports to a user."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    http_status: ClassVar[int] = 500
    retry_after_s: ClassVar[int | None] = None  # an HTTP answer's Retry-After, if any

    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where

    def to_json(self) -> dict[str, object]:
        """The API's error body: `{"status": "ERROR", "error_code", "error_msg"}`, and
        `error_where` (a JSON path such as `$.count`, or a request field) when known."""
        body: dict[str, object] = {"status": "ERROR", "error_code": int(self.code),
                                   "error_msg": str(self)}
        if self.where:
            body["error_where"] = self.where
        return body


class RequestError(DeferredError):
    """Family: what a caller sent is wrong (its shape, a name, params, an address, its
    credentials); sending it again unchanged gets the same answer."""

    code, http_status = ErrorCode.BAD_REQUEST, 400


class AccessError(RequestError):
    """Family: the caller may not do this (not signed in, not allowed, or too many tries)."""


class TaskRunError(DeferredError):
    """Family: a task ran and did not give a result (it raised, was cancelled, its process
    died, or what it returned cannot be kept)."""

    code, http_status = ErrorCode.TASK_FAILED, 500


class SetupError(DeferredError):
    """Family: the tasks file, the config or the machine does not let deferred start."""

    code, http_status = ErrorCode.CONFIG, 500


class StoreError(DeferredError):
    """Family: the database could not do what was asked; nothing was half-done."""

    code, http_status = ErrorCode.STORE_UNAVAILABLE, 503


class UnavailableError(DeferredError):
    """Family: no server takes the work now (it is stopping, or none runs); try later."""

    code, http_status = ErrorCode.SHUTTING_DOWN, 503


class BadRequestError(RequestError):
    """The request or command line is malformed (wrong shape, missing or unknown argument)."""

    code, http_status = ErrorCode.BAD_REQUEST, 400


class ConflictError(BadRequestError):
    """The request is well formed, but the task's status does not allow it (a retry of a task
    that has not failed): the bad-request code, with HTTP 409."""

    http_status = 409


class UnknownTaskError(RequestError):
    """No task is registered under the requested name."""

    code, http_status = ErrorCode.UNKNOWN_TASK, 404


class InvalidParamsError(RequestError):
    """The params do not match the task's JSON Schema or its `run()` signature."""

    code, http_status = ErrorCode.INVALID_PARAMS, 422


class InvalidJsonError(RequestError):
    """A text that should be JSON is not (reported with line and column)."""

    code, http_status = ErrorCode.INVALID_JSON, 400


class NotFoundError(RequestError):
    """No task record, result file or route answers to that name."""

    code, http_status = ErrorCode.NOT_FOUND, 404


class RequestTooLargeError(RequestError):
    """The request body is over the configured limit; it was not read."""

    code, http_status = ErrorCode.REQUEST_TOO_LARGE, 413


class UnsupportedMediaTypeError(RequestError):
    """The request body is not declared as JSON."""

    code, http_status = ErrorCode.UNSUPPORTED_MEDIA_TYPE, 415


class MethodNotAllowedError(RequestError):
    """The route exists but not for that HTTP method."""

    code, http_status = ErrorCode.METHOD_NOT_ALLOWED, 405


class InvalidEmailError(RequestError):
    """The email address is not one plain address (`name@example.com`)."""

    code, http_status = ErrorCode.INVALID_EMAIL, 422


class CrossOriginError(AccessError):
    """A browser sent the request from another site, or a form without its security token."""

    code, http_status = ErrorCode.CROSS_ORIGIN, 403


class UnauthorizedError(AccessError):
    """The request carries no valid credentials (token, session or password)."""

    code, http_status = ErrorCode.UNAUTHORIZED, 401


class ForbiddenError(AccessError):
    """The credentials are valid, but their role does not allow this action."""

    code, http_status = ErrorCode.FORBIDDEN, 403


class TooManyAttemptsError(AccessError):
    """Too many failed logins from one address; it must wait before trying again."""

    code, http_status = ErrorCode.TOO_MANY_ATTEMPTS, 429


class TaskFailedError(TaskRunError):
    """The task itself raised; the message is the task's own error in one line."""

    code, http_status = ErrorCode.TASK_FAILED, 500


class InvalidResultError(TaskRunError):
    """A task returned something deferred cannot keep (a bad file, a value that is not JSON)."""

    code, http_status = ErrorCode.INVALID_RESULT, 500


class TaskDefinitionError(SetupError):
    """A task is defined wrongly: bad or duplicate name, params its `run()` cannot take."""

    code, http_status = ErrorCode.TASK_DEFINITION, 500


class InvalidSchemaError(TaskDefinitionError):
    """A task's JSON Schema is not a valid schema."""

    code = ErrorCode.INVALID_SCHEMA


class ConfigError(SetupError):
    """The configuration file cannot be read or does not match the configuration schema."""

    code, http_status = ErrorCode.CONFIG, 500


class ServerAlreadyRunningError(SetupError):
    """Another server already uses this SQLite database."""

    code, http_status = ErrorCode.SERVER_ALREADY_RUNNING, 500


class DatabaseVersionError(StoreError):
    """The database was made by a newer deferred than this one."""

    code, http_status = ErrorCode.DATABASE_VERSION, 500


class StoreUnavailableError(StoreError):
    """The database cannot be reached or refused the transaction; nothing was stored."""

    code, http_status = ErrorCode.STORE_UNAVAILABLE, 503


class StoreFullError(StoreError):
    """The database cannot grow (a full disk); nothing was stored."""

    code, http_status = ErrorCode.STORE_FULL, 503


class StoreRejectedError(StoreError):
    """The database refused the data itself (too big, or a character it cannot hold)."""

    code, http_status = ErrorCode.STORE_REJECTED, 422


class ShuttingDownError(UnavailableError):
    """The server is stopping and takes no new work; another server, or this one once it
    started again, will."""

    code, http_status = ErrorCode.SHUTTING_DOWN, 503
    retry_after_s = 5


class NoServerError(UnavailableError):
    """`task.delay()` was called with no server running in this process."""

    code, http_status = ErrorCode.NO_SERVER, 503


class MailDeliveryError(DeferredError):
    """An email could not be handed to the SMTP server. `permanent` says whether trying again
    can help (a 5xx reply cannot; a refused connection, a timeout or a 4xx reply can)."""

    code, http_status = ErrorCode.MAIL_DELIVERY, 502

    def __init__(self, message: str, *, permanent: bool, smtp_code: int | None = None,
                 where: str = "") -> None:
        super().__init__(message, where=where)
        self.permanent = permanent
        self.smtp_code = smtp_code


class ResultOutputError(DeferredError):
    """A result's files cannot be written where they were asked for."""

    code, http_status = ErrorCode.RESULT_OUTPUT, 500


class TaskCancelledError(TaskRunError):
    """Raised by `TaskContext.check_cancelled()` in a task asked to stop; the task ends
    CANCELLED. `TaskHandle.wait()` raises it for a cancelled task."""

    code, http_status = ErrorCode.TASK_CANCELLED, 409


class TaskProcessError(TaskRunError):
    """The task raised in its child process (or the process died): its type's name, its
    one-line message and its traceback, as the child saw them."""

    code, http_status = ErrorCode.TASK_PROCESS, 500

    def __init__(self, type_name: str, message: str, child_traceback: str,
                 type_names: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.type_name, self.child_traceback = type_name, child_traceback
        self.type_names = type_names or (type_name,)  # its class and every base, by name


class NotInTaskError(TaskRunError, RuntimeError):
    """`deferred.current()` was called outside a running task (a bug in the caller)."""

    code, http_status = ErrorCode.NOT_IN_TASK, 500


class InternalError(DeferredError):
    """A bug in deferred: the details are in the log, never shown to the user."""

    code, http_status = ErrorCode.INTERNAL, 500
