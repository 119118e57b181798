"""StopSignals: a signal only counts; the waiting loop wakes at once and does the rest."""

import os
import signal
import threading

from deferred.runtime.signals import StopSignals


def test_a_signal_is_counted_and_wakes_the_wait():
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals() as signals:
        assert signals.wait(0) == 0
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.wait(30) == 1  # returns on the signal, not after 30 s
        os.kill(os.getpid(), signal.SIGINT)
        assert signals.wait(30) == 2
    assert signal.getsignal(signal.SIGTERM) is before


def test_another_thread_wakes_the_wait_without_counting():
    with StopSignals() as signals:
        waker = threading.Timer(0.05, signals.wake)
        waker.start()
        assert signals.wait(30) == 0
        waker.join()


def test_off_the_main_thread_nothing_is_installed():
    seen = []

    def use() -> None:
        with StopSignals() as signals:
            seen.append(signal.getsignal(signal.SIGTERM))
            signals.wake()
            seen.append(signals.wait(30))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=use, name="test-signals")
    thread.start()
    thread.join(30)
    assert seen == [before, 0]
