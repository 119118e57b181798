"""`PauseGate`: what a server knows of the paused task types, and when it may start by it."""

from __future__ import annotations

from deferred.interfaces import PausedNames
from deferred.runtime.pauses import PAUSE_FENCE_S, PauseGate, fence_wait_s


def test_a_newer_reading_tells_what_was_paused_and_resumed_and_an_older_one_nothing():
    gate = PauseGate(fence_s=None)
    assert gate.learn(PausedNames(frozenset({"x", "y"}), 10.0)) == ({"x", "y"}, frozenset())
    assert gate.learn(PausedNames(frozenset({"y", "z"}), 11.0)) == ({"z"}, {"x"})
    assert gate.learn(PausedNames(frozenset(), 10.5)) == (frozenset(), frozenset())  # older
    assert gate.names == {"y", "z"}


def test_without_a_fence_any_reading_will_do_and_with_one_only_a_fresh_one():
    assert PauseGate(fence_s=None).is_fresh(1e9)
    gate = PauseGate(fence_s=PAUSE_FENCE_S)
    assert not gate.is_fresh(100.0)  # nothing read yet
    gate.learn(PausedNames(frozenset(), 100.0))
    assert gate.is_fresh(100.0 + PAUSE_FENCE_S * 0.99)
    assert not gate.is_fresh(100.0 + PAUSE_FENCE_S)
    gate.forget()  # a reading failed
    assert not gate.is_fresh(100.0)


def test_a_pause_is_answered_once_every_reading_before_its_commit_is_stale():
    committed_at = 50.0
    answered_at = committed_at + fence_wait_s(committed_at, committed_at)
    # The freshest reading that could miss the pause was taken just before the commit.
    gate = PauseGate(fence_s=PAUSE_FENCE_S)
    gate.learn(PausedNames(frozenset(), committed_at))
    assert not gate.is_fresh(answered_at)
    assert fence_wait_s(committed_at, answered_at + 1) == 0.0
