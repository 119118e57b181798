"""The one tree of errors deferred reports to its users, with stable codes.

Every user mistake is a `DeferredError` subclass carrying an `ErrorCode` that never changes
meaning, an HTTP status for the API, and a one-line message saying what was wrong and where.
The README's error table lists the same codes; a unit test keeps the two in step.
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
    TASK_FAILED = 200
    INVALID_RESULT = 201
    TASK_DEFINITION = 300
    INVALID_SCHEMA = 301
    CONFIG = 302
    RESULT_OUTPUT = 400
    INTERNAL = 999


class DeferredError(Exception):
    """Base of every error deferred reports to a user."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where

    def to_json(self) -> dict[str, object]:
        """The API's error body: `{"status": "ERROR", "error_code", "error_msg"}`."""
        return {"status": "ERROR", "error_code": int(self.code), "error_msg": str(self)}


class BadRequestError(DeferredError):
    """The request or command line is malformed (wrong shape, missing or unknown argument)."""

    code, http_status = ErrorCode.BAD_REQUEST, 400


class UnknownTaskError(DeferredError):
    """No task is registered under the requested name."""

    code, http_status = ErrorCode.UNKNOWN_TASK, 404


class InvalidParamsError(DeferredError):
    """The params do not match the task's JSON Schema or its `run()` signature."""

    code, http_status = ErrorCode.INVALID_PARAMS, 422


class InvalidJsonError(DeferredError):
    """A text that should be JSON is not (reported with line and column)."""

    code, http_status = ErrorCode.INVALID_JSON, 400


class TaskFailedError(DeferredError):
    """The task itself raised; the message is the task's own error in one line."""

    code, http_status = ErrorCode.TASK_FAILED, 500


class InvalidResultError(DeferredError):
    """A task returned something deferred cannot keep (a bad file, a value that is not JSON)."""

    code, http_status = ErrorCode.INVALID_RESULT, 500


class TaskDefinitionError(DeferredError):
    """A task is defined wrongly: bad or duplicate name, params its `run()` cannot take."""

    code, http_status = ErrorCode.TASK_DEFINITION, 500


class InvalidSchemaError(TaskDefinitionError):
    """A task's JSON Schema is not a valid schema."""

    code = ErrorCode.INVALID_SCHEMA


class ConfigError(DeferredError):
    """The configuration file cannot be read or does not match the configuration schema."""

    code, http_status = ErrorCode.CONFIG, 500


class ResultOutputError(DeferredError):
    """A result's files cannot be written where they were asked for."""

    code, http_status = ErrorCode.RESULT_OUTPUT, 500


class InternalError(DeferredError):
    """A bug in deferred: the details are in the log, never shown to the user."""

    code, http_status = ErrorCode.INTERNAL, 500
