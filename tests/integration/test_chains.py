"""Follow-up tasks submitted from a running task, and chains that run step by step, linked
in their records: through an embedded server and over its HTTP API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_until

import deferred
from deferred.errors import InvalidParamsError, UnknownTaskError
from deferred.records import TaskStatus
from deferred.tasks.registry import TaskRegistry


@pytest.fixture
def registry() -> TaskRegistry:
    registry = TaskRegistry()

    @deferred.task(name="split", registry=registry)
    def split(words):
        context = deferred.current()
        return [context.submit("shout", {"word": word}) for word in words]

    @deferred.task(name="shout", registry=registry,
                   json_schema={"type": "object", "required": ["word"],
                                "properties": {"word": {"type": "string"}}})
    def shout(word):
        return word.upper()

    @deferred.task(name="boom", registry=registry)
    def boom():
        raise RuntimeError("the chain stops here")

    return registry


@pytest.fixture
def server(tmp_path: Path, registry: TaskRegistry) -> Iterator[deferred.Server]:
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0}}, registry)
    server.start()
    yield server
    server.stop()


def record_of(server: deferred.Server, task_id: int) -> dict:
    with urllib.request.urlopen(f"{server.url}/api/tasks/{task_id}", timeout=30) as answer:
        return json.loads(answer.read())


def test_a_running_task_submits_follow_ups_that_link_back(server):
    parent = server.submit("split", {"words": ["a", "b"]})
    children = parent.wait(10)
    assert len(children) == 2
    for child_id in children:
        child = wait_until(lambda: record_of(server, child_id)["status"] == "SUCCEEDED" and
                           record_of(server, child_id))
        assert child["parent_id"] == parent.id
    assert record_of(server, parent.id)["children"] == children


def test_a_chain_runs_each_step_after_the_one_before_succeeded(server, registry):
    first = deferred.chain(("shout", {"word": "one"}), ("shout", {"word": "two"}),
                           (registry.get("shout"), {"word": "three"}), registry=registry)
    assert first.wait(10) == "ONE"
    ids = [first.id]
    while len(ids) < 3:
        record = wait_until(lambda: record_of(server, ids[-1])["children"] and
                            record_of(server, ids[-1]), timeout_s=10)
        ids.append(record["children"][0])
    last = wait_until(lambda: record_of(server, ids[-1])["status"] == "SUCCEEDED" and
                      record_of(server, ids[-1]))
    assert last["result"] == "THREE" and last["parent_id"] == ids[1]
    assert [step["params"]["word"] for step in record_of(server, ids[0])["chain_next"]] == [
        "two", "three"]  # what was to follow, kept on the record
    assert last["chain_next"] == []


def test_a_failed_step_ends_the_chain(server):
    first = server.chain(("boom", {}), ("shout", {"word": "never"}))
    wait_until(lambda: first.status is TaskStatus.FAILED)
    assert first.record.chain_next[0].task_name == "shout"
    assert first.record.children == ()


def test_every_step_is_checked_when_the_chain_is_submitted(server):
    with pytest.raises(InvalidParamsError, match=r"steps\[1\]\.\$: 'word' is a required"):
        server.chain(("shout", {"word": "ok"}), ("shout", {}))
    with pytest.raises(UnknownTaskError, match=r"steps\[0\]"):
        server.chain(("nope", {}))


def test_a_chain_over_http(server):
    body = json.dumps({"steps": [{"task_name": "shout", "params": {"word": "x"}},
                                 {"task_name": "shout", "params": {"word": "y"}}]}).encode()
    request = urllib.request.Request(f"{server.url}/api/chains", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        first_id = json.loads(answer.read())["task_id"]
    second = wait_until(lambda: record_of(server, first_id)["children"], timeout_s=10)[0]
    wait_until(lambda: record_of(server, second)["result"] == "Y")
    bad = urllib.request.Request(f"{server.url}/api/chains", data=b'{"steps": 5}',
                                 method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(bad, timeout=30)
    with info.value as error:
        assert error.code == 400 and json.loads(error.read())["error_where"] == "body.steps"
