"""Errors come in families a caller can catch as a whole, and every error deferred raises is
a DeferredError with a code of its own."""

import pytest

import deferred
from deferred import errors
from deferred.errors import (AccessError, DeferredError, RequestError, SetupError, StoreError,
                             TaskRunError, UnavailableError)

FAMILIES = {
    RequestError: {"BadRequestError", "ConflictError", "UnknownTaskError", "InvalidParamsError",
                   "InvalidJsonError", "NotFoundError", "RequestTooLargeError",
                   "UnsupportedMediaTypeError", "MethodNotAllowedError", "InvalidEmailError",
                   "CrossOriginError", "UnauthorizedError", "ForbiddenError",
                   "TooManyAttemptsError"},
    AccessError: {"CrossOriginError", "UnauthorizedError", "ForbiddenError",
                  "TooManyAttemptsError"},
    TaskRunError: {"TaskFailedError", "InvalidResultError", "TaskCancelledError",
                   "TaskProcessError", "NotInTaskError"},
    SetupError: {"TaskDefinitionError", "InvalidSchemaError", "ConfigError",
                 "ServerAlreadyRunningError"},
    StoreError: {"DatabaseVersionError", "StoreUnavailableError", "StoreFullError",
                 "StoreRejectedError"},
    UnavailableError: {"ShuttingDownError", "NoServerError"},
}


def concrete_errors():
    families = set(FAMILIES) | {DeferredError}
    return [value for value in vars(errors).values()
            if isinstance(value, type) and issubclass(value, DeferredError)
            and value not in families]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.__name__)
def test_each_family_holds_its_members(family):
    members = {kind.__name__ for kind in concrete_errors() if issubclass(kind, family)}
    assert members == FAMILIES[family]


def test_the_task_errors_that_lived_outside_join_the_tree():
    for kind in (deferred.TaskCancelledError, errors.NotInTaskError, errors.TaskProcessError):
        assert issubclass(kind, TaskRunError)
    assert issubclass(errors.NotInTaskError, RuntimeError)  # as before
    with pytest.raises(TaskRunError) as caught:
        deferred.current()
    assert caught.value.code is errors.ErrorCode.NOT_IN_TASK


def test_a_family_is_caught_whole():
    with pytest.raises(RequestError):
        raise errors.UnknownTaskError("unknown task 'x'")
    with pytest.raises(StoreError):
        raise errors.StoreFullError("the disk is full")


def test_every_concrete_error_has_a_code_and_a_status():
    for kind in concrete_errors():
        assert kind.code in set(errors.ErrorCode), kind
        assert 400 <= kind.http_status < 600, kind
