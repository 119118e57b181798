"""Error codes are stable, and the table of docs/errors.md says the same as the code."""

import re
from pathlib import Path

import pytest

from deferred import errors
from deferred.errors import DeferredError, ErrorCode

ERRORS_DOC = Path(__file__).parents[2] / "docs" / "errors.md"


def documented_table() -> dict[int, str]:
    text = ERRORS_DOC.read_text(encoding="utf-8")
    return {int(code): name for code, name in re.findall(r"^\| (\d+) \| (\w+) \|", text, re.M)}


def test_the_docs_table_lists_every_code_with_its_name():
    assert documented_table() == {int(code): code.name for code in ErrorCode}


def test_codes_of_the_first_release_never_change():
    assert {code.name: int(code) for code in ErrorCode if int(code) in {
        100, 101, 102, 103, 104, 105, 106, 107, 200, 201, 300, 301, 302, 303, 304, 400, 500,
        501, 502, 503, 504, 108, 109, 110, 111, 112, 600, 999}} == {
        "BAD_REQUEST": 100, "UNKNOWN_TASK": 101, "INVALID_PARAMS": 102, "INVALID_JSON": 103,
        "NOT_FOUND": 104, "REQUEST_TOO_LARGE": 105, "UNSUPPORTED_MEDIA_TYPE": 106,
        "METHOD_NOT_ALLOWED": 107, "SERVER_ALREADY_RUNNING": 303, "DATABASE_VERSION": 304,
        "STORE_UNAVAILABLE": 500, "STORE_FULL": 501, "SHUTTING_DOWN": 502, "NO_SERVER": 503,
        "INVALID_EMAIL": 108, "MAIL_DELIVERY": 600, "STORE_REJECTED": 504,
        "CROSS_ORIGIN": 109, "UNAUTHORIZED": 110, "FORBIDDEN": 111, "TOO_MANY_ATTEMPTS": 112,
        "TASK_FAILED": 200, "INVALID_RESULT": 201, "TASK_DEFINITION": 300,
        "INVALID_SCHEMA": 301, "CONFIG": 302, "RESULT_OUTPUT": 400, "INTERNAL": 999}


def error_classes() -> list[type[DeferredError]]:
    return [value for value in vars(errors).values()
            if isinstance(value, type) and issubclass(value, DeferredError)]


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_has_a_code_a_status_and_a_docstring(cls):
    assert isinstance(cls.code, ErrorCode)
    assert 400 <= cls.http_status <= 599
    assert cls.__doc__


def test_every_code_but_internal_has_an_error_class():
    used = {cls.code for cls in error_classes() if cls is not DeferredError}
    assert used == set(ErrorCode)


def test_to_json_is_the_spec_shape():
    exc = errors.InvalidParamsError("-1 is less than the minimum of 1", where="$.count")
    assert exc.to_json() == {"status": "ERROR", "error_code": 102,
                             "error_msg": "$.count: -1 is less than the minimum of 1",
                             "error_where": "$.count"}
    assert (exc.message, exc.where) == ("-1 is less than the minimum of 1", "$.count")
