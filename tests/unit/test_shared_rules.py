"""The rules several parts share, each written once: back-off, host names, MIME types, links."""

import random

import pytest

from deferred.backoff import backoff_delay_s
from deferred.links import file_url, listener_base_url, request_base_url, task_url
from deferred.mediatypes import guess_media_type, is_media_type, split_media_type
from deferred.patterns import is_host_name
from deferred.tasks.retries import RetryPolicy


@pytest.mark.parametrize("attempt, low, high", [(1, 1.0, 2.0), (2, 2.0, 4.0), (3, 4.0, 8.0),
                                                (10, 5.0, 10.0), (10_000, 5.0, 10.0)])
def test_backoff_doubles_up_to_its_cap_with_jitter_between_half_and_all(attempt, low, high):
    assert backoff_delay_s(attempt, 2.0, 10.0, rand=lambda: 0.0) == low
    assert backoff_delay_s(attempt, 2.0, 10.0, rand=lambda: 1.0) == high
    assert low <= backoff_delay_s(attempt, 2.0, 10.0) <= high


def test_task_retries_wait_by_the_same_backoff():
    policy = RetryPolicy(retries=5, backoff_s=2.0, max_delay_s=10.0)
    assert policy.delay_s(3, random.Random(7)) == backoff_delay_s(3, 2.0, 10.0,
                                                                  random.Random(7).random)


@pytest.mark.parametrize("name, expected", [
    ("example.com", True), ("a", True), ("xn--fa-hia.de", True), ("a-b.c", True),
    ("-a.com", False), ("a-.com", False), ("a..com", False), ("", False), ("a_b.com", False),
    ("a" * 63 + ".com", True), ("a" * 64 + ".com", False),
    (".".join(["a" * 63] * 4), False),  # 255 characters
])
def test_host_names(name, expected):
    assert is_host_name(name) is expected


@pytest.mark.parametrize("text, expected", [
    ("text/csv", ("text", "csv", "")),
    ("Text/CSV; charset=utf-8", ("text", "csv", "; charset=utf-8")),
    ("application/vnd.ms-excel", ("application", "vnd.ms-excel", "")),
    ("text", None), ("", None), (None, None), (" text/csv", None), ("text/csv\r\nX: y", None),
    ("text/" + "a" * 300, None), ("text/csv; name=é", None),
])
def test_media_types(text, expected):
    assert split_media_type(text) == expected
    assert is_media_type(text) is (expected is not None)


def test_a_media_type_is_guessed_from_the_file_name():
    assert guess_media_type("report.csv") == "text/csv"
    assert guess_media_type("archive.tar.gz") == "application/octet-stream"
    assert guess_media_type("no-extension") == "application/octet-stream"


def test_links_are_based_on_the_public_url_when_it_is_set():
    assert listener_base_url("https://jobs.example.com/", "0.0.0.0", 5000) \
        == "https://jobs.example.com"
    assert request_base_url({"HTTP_HOST": "internal:5000"}, "https://jobs.example.com/") \
        == "https://jobs.example.com"
    assert listener_base_url(None, "127.0.0.1", 5001) == "http://127.0.0.1:5001"
    assert task_url("http://h", 12) == "http://h/api/tasks/12"
    assert file_url("http://h", "a/b") == "http://h/results/a%2Fb"
