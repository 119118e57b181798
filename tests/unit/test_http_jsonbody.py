"""Reading and checking a submit body: content type, size limit before reading, keys."""

import io

import pytest

from deferred.errors import (BadRequestError, InvalidJsonError, RequestTooLargeError,
                             UnsupportedMediaTypeError)
from deferred.http.jsonbody import (SubmitRequest, check_json_content_type, is_json_media_type,
                                    parse_submit, read_body, wait_seconds)


class CountingStream(io.BytesIO):
    """A request body that remembers how much of it was read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        part = super().read(size)
        self.bytes_read += len(part)
        return part


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "Application/JSON",
    "application/vnd.api+json", " application/json ;charset=UTF-8"])
def test_json_media_types_are_accepted(content_type):
    assert is_json_media_type(content_type)
    assert check_json_content_type(content_type) is True


@pytest.mark.parametrize("content_type", [
    "", "text/plain", "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8"])
def test_types_curl_and_bare_clients_send_may_still_hold_json(content_type):
    assert check_json_content_type(content_type) is False


@pytest.mark.parametrize("content_type", [
    "multipart/form-data; boundary=x", "application/jsonp", "text/json+xml", "application/xml"])
def test_other_media_types_get_415_saying_how_to_send_json(content_type):
    with pytest.raises(UnsupportedMediaTypeError) as info:
        check_json_content_type(content_type)
    assert info.value.http_status == 415 and int(info.value.code) == 106
    assert "-H 'Content-Type: application/json'" in str(info.value)


def test_a_body_within_the_limit_is_read():
    stream = CountingStream(b'{"task_name": "x"}')
    assert read_body({"wsgi.input": stream, "CONTENT_LENGTH": "18"}, 18) == b'{"task_name": "x"}'


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    stream = CountingStream(b"x" * 2000)
    with pytest.raises(RequestTooLargeError) as info:
        read_body({"wsgi.input": stream, "CONTENT_LENGTH": "2000"}, 1000)
    assert stream.bytes_read == 0
    assert info.value.http_status == 413 and int(info.value.code) == 105
    assert "(2000 bytes) is over the limit of 1000 bytes" in str(info.value)


def test_a_body_without_length_is_read_only_one_byte_past_the_limit():
    stream = CountingStream(b"x" * 5000)
    with pytest.raises(RequestTooLargeError):
        read_body({"wsgi.input": stream, "wsgi.input_terminated": True}, 1000)
    assert stream.bytes_read == 1001


def test_a_chunked_body_within_the_limit_is_read():
    stream = CountingStream(b"{}")
    assert read_body({"wsgi.input": stream, "HTTP_TRANSFER_ENCODING": "chunked"}, 10) == b"{}"


def test_no_length_and_no_chunking_means_no_body():
    assert read_body({"wsgi.input": CountingStream(b"ignored")}, 10) == b""


@pytest.mark.parametrize("length", ["-5", "\u00b2", "1e3", "0x10", "1 2"])
def test_a_malformed_length_is_a_bad_request(length):
    with pytest.raises(BadRequestError, match="Content-Length .* is not a number of bytes"):
        read_body({"wsgi.input": CountingStream(b""), "CONTENT_LENGTH": length}, 10)


def test_a_length_of_thousands_of_digits_is_too_large_without_being_read():
    stream = CountingStream(b"x" * 100)
    with pytest.raises(RequestTooLargeError, match="over the limit of 1000 bytes"):
        read_body({"wsgi.input": stream, "CONTENT_LENGTH": "9" * 5000}, 1000)
    assert stream.bytes_read == 0


def test_leading_zeros_do_not_make_a_length_large():
    stream = CountingStream(b"{}")
    assert read_body({"wsgi.input": stream, "CONTENT_LENGTH": "0" * 5000 + "2"}, 10) == b"{}"


def test_a_full_submit_is_parsed():
    body = b'{"task_name": "mult", "params": {"operands": [2]}, "email": "a@b.c", "wait": 1.5}'
    assert parse_submit(body) == SubmitRequest("mult", {"operands": [2]}, "a@b.c", 1.5)


def test_params_default_to_an_empty_object_and_null_means_left_out():
    assert parse_submit(b'{"task_name": "x"}') == SubmitRequest("x", {})
    assert parse_submit(b'{"task_name": "x", "params": null, "email": null, "wait": null}') \
        == SubmitRequest("x", {})


def test_params_of_another_type_are_left_for_the_service_to_refuse():
    assert parse_submit(b'{"task_name": "x", "params": [1]}').params == [1]


@pytest.mark.parametrize("body, message", [
    (b'{"task_name": "x", "parms": {}}',
     "body: unknown key 'parms' (allowed: task_name, params, email, wait, delay_s, run_at, priority, idempotency_key, timeout_s)"),
    (b'{"params": {}}', "body: 'task_name' is missing"),
    (b'{"task_name": 3}', "body.task_name: must be a string, got integer"),
    (b'{"task_name": "x", "email": ["a"]}', "body.email: must be a string, got array"),
    (b'{"task_name": "x", "wait": -1}', "body.wait: must be a number of seconds >= 0, got -1"),
    (b'{"task_name": "x", "wait": true}', "body.wait: must be a number of seconds >= 0, got "
                                          "boolean"),
])
def test_a_malformed_submit_is_a_bad_request_naming_the_key(body, message):
    with pytest.raises(BadRequestError) as info:
        parse_submit(body)
    assert str(info.value).startswith(message)
    assert int(info.value.code) == 100


@pytest.mark.parametrize("body, message", [
    (b'{"task_name": "x",}', "body: invalid JSON at line 1 column 19"),
    (b"[1, 2]", "body: expected a JSON object, got array"),
    (b"", "the request body is empty"),
    (b"  \n", "the request body is empty"),
])
def test_bad_json_gets_its_own_code_with_line_and_column(body, message):
    with pytest.raises(InvalidJsonError) as info:
        parse_submit(body)
    assert str(info.value).startswith(message)
    assert int(info.value.code) == 103 and info.value.http_status == 400


def test_a_huge_wait_does_not_overflow():
    assert parse_submit(b'{"task_name": "x", "wait": 1' + b"0" * 400 + b"}").wait_s == 1e9


@pytest.mark.parametrize("requested, configured, waited", [
    (None, 30.0, 30.0), (0, 30.0, 0.0), (5, 30.0, 5.0), (100, 30.0, 30.0)])
def test_a_submit_waits_what_it_asks_but_never_longer_than_configured(requested, configured,
                                                                       waited):
    assert wait_seconds(requested, configured) == waited
