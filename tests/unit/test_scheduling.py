"""Scheduling options of a submit, checked once: delays, start times with zones, priorities
and idempotency keys, each mistake naming its field."""

from __future__ import annotations

import datetime

import pytest

from deferred.errors import BadRequestError
from deferred.records import utcnow
from deferred.scheduling.options import SubmitOptions, submit_options


def test_no_options_mean_now_priority_zero_and_no_key():
    assert submit_options() == SubmitOptions()
    assert not SubmitOptions().is_delayed


def test_a_delay_becomes_a_start_time_from_now():
    before = utcnow()
    options = submit_options(delay_s=60)
    assert before + datetime.timedelta(seconds=60) <= options.run_at
    assert options.run_at <= utcnow() + datetime.timedelta(seconds=60)
    assert options.is_delayed


def test_run_at_takes_iso_8601_with_a_zone_and_keeps_it_in_utc():
    options = submit_options(run_at="2030-05-01T14:00:00+02:00")
    assert options.run_at == datetime.datetime(2030, 5, 1, 12, tzinfo=datetime.timezone.utc)
    assert submit_options(run_at="2030-05-01T12:00:00Z").run_at == options.run_at
    assert submit_options(run_at=options.run_at).run_at == options.run_at


@pytest.mark.parametrize("kwargs, message", [
    ({"delay_s": -1}, "delay_s: must be from 0 to"),
    ({"delay_s": "10"}, "delay_s: must be a number of seconds >= 0, got string"),
    ({"delay_s": True}, "delay_s: must be a number"),
    ({"delay_s": 1, "run_at": "2030-01-01T00:00:00Z"}, "delay_s: give delay_s or run_at"),
    ({"run_at": "2030-01-01T00:00:00"}, "run_at: 2030-01-01T00:00:00 has no zone"),
    ({"run_at": "tomorrow"}, "run_at: 'tomorrow' is not an ISO 8601 time"),
    ({"run_at": 5}, "run_at: must be an ISO 8601 time, got integer"),
    ({"run_at": "2999-01-01T00:00:00Z"}, "run_at: is more than ten years away"),
    ({"priority": 1.5}, "priority: must be a whole number"),
    ({"priority": 5000}, "priority: must be from -1000 to 1000"),
    ({"idempotency_key": ""}, "idempotency_key: must be a text of 1 to 200"),
    ({"idempotency_key": "k" * 201}, "idempotency_key: must be a text of 1 to 200"),
    ({"run_at": "0001-01-01T00:00:00+14:00"}, "run_at: 0001-01-01T00:00:00+14:00 is before "
                                              "the year 1000"),
    ({"run_at": " 2030-01-01T00:00:00Z"}, "run_at: ' 2030-01-01T00:00:00Z' is not an ISO "),
    ({"run_at": "20300101T000000Z"}, "run_at: '20300101T000000Z' is not an ISO 8601 time"),
    ({"run_at": "2030-01-01 00:00:00Z"}, "run_at: '2030-01-01 00:00:00Z' is not an ISO "),
    ({"idempotency_key": "\udc00"}, "idempotency_key: must not hold control characters"),
    ({"idempotency_key": "a\x00b"}, "idempotency_key: must not hold control characters"),
    ({"idempotency_key": "a\r\nb"}, "idempotency_key: must not hold control characters"),
])
def test_each_mistake_names_its_field(kwargs, message):
    with pytest.raises(BadRequestError) as info:
        submit_options(**kwargs)
    assert str(info.value).startswith(message)
