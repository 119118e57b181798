"""Group commit: concurrent callers share commits, each gets its own result or the error."""

import threading

import pytest

from deferred.group_commit import GroupCommitter


def test_one_caller_commits_alone():
    batches = []
    committer = GroupCommitter(lambda values: batches.append(list(values)) or
                               [value * 2 for value in values])
    assert committer.submit(21) == 42
    assert batches == [[21]]


def test_callers_arriving_during_a_commit_share_the_next_one():
    entered, release = threading.Event(), threading.Event()
    batches = []

    def commit(values):
        batches.append(list(values))
        if len(batches) == 1:
            entered.set()
            release.wait(10)
        return [f"r{value}" for value in values]

    committer = GroupCommitter(commit)
    results = {}

    def call(value):
        results[value] = committer.submit(value)

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert entered.wait(10)
    others = [threading.Thread(target=call, args=(n,)) for n in range(1, 6)]
    for thread in others:
        thread.start()
    while len(committer._waiting) < 5:  # all five wait behind the first commit
        threading.Event().wait(0.001)
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert batches[0] == [0] and sorted(batches[1]) == [1, 2, 3, 4, 5] and len(batches) == 2
    assert results == {n: f"r{n}" for n in range(6)}


def test_every_caller_of_a_failed_batch_gets_the_error_and_the_next_batch_works():
    calls = []

    def commit(values):
        calls.append(list(values))
        if len(calls) == 1:
            raise OSError("disk full")
        return list(values)

    committer = GroupCommitter(commit)
    with pytest.raises(OSError, match="disk full"):
        committer.submit(1)
    assert committer.submit(2) == 2
