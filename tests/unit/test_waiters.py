"""Waiters: every watcher of a task is woken, none hides a wake-up from another."""

import threading

from deferred.runtime.waiters import Waiters


def test_every_watcher_of_a_task_is_woken_and_others_are_not():
    waiters = Waiters()
    with waiters.watch(1) as first, waiters.watch(1) as second, waiters.watch(2) as other:
        first.set()
        first.clear()  # one watcher clearing its event ...
        waiters.wake([1])
        assert first.is_set() and second.is_set()  # ... never hides the next wake-up
        assert not other.is_set()
    assert waiters._events == {}


def test_wake_all_wakes_everyone():
    waiters = Waiters()
    with waiters.watch(1) as first, waiters.watch(2) as second:
        waiters.wake_all()
        assert first.is_set() and second.is_set()


def test_watchers_in_threads_all_return():
    waiters = Waiters()
    woken = []
    ready = threading.Barrier(6)

    def watch():
        with waiters.watch(7) as event:
            ready.wait(10)
            woken.append(event.wait(10))

    threads = [threading.Thread(target=watch) for _ in range(5)]
    for thread in threads:
        thread.start()
    ready.wait(10)
    waiters.wake([7])
    for thread in threads:
        thread.join(10)
    assert woken == [True] * 5
