"""Probe tasks for server tests: they log their start and end, and can be held running."""

import os
import time
from pathlib import Path

import deferred

LOG = Path(os.environ.get("PROBE_DIR", ".")) / "probe.log"


def _log(event, key):
    # One write per line with O_APPEND: lines from concurrent tasks never interleave.
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{event} {key} {time.monotonic():.6f}\n".encode())
    finally:
        os.close(fd)


@deferred.task(name='probe',
               json_schema={'type': 'object',
                            'properties': {'key': {'type': 'string'},
                                           'hold_while': {'type': 'string'},
                                           'seconds': {'type': 'number', 'minimum': 0}},
                            'required': ['key']})
def probe(key, hold_while=None, seconds=0):
    """Log start and end; run `seconds`, or while the file `hold_while` exists (max 60 s)."""
    return run_probe(key, hold_while, seconds)


def run_probe(key, hold_while=None, seconds=0):
    """The body of a probe task (other probe files register it under other names)."""
    _log('start', key)
    deadline = time.monotonic() + 60
    if hold_while:
        while os.path.exists(hold_while) and time.monotonic() < deadline:
            time.sleep(0.01)
    time.sleep(seconds)
    _log('end', key)
    return key


@deferred.task(name='patient', json_schema={'type': 'object',
                                            'properties': {'key': {'type': 'string'}},
                                            'required': ['key']})
def patient(key):
    """Log start, wait up to 60 s for a cancel request, log end; stop as asked."""
    _log('start', key)
    context = deferred.current()
    context.wait_cancelled(60)
    _log('end', key)
    context.check_cancelled()
    return 'never asked'


@deferred.task(name='second_time', retries=1, retry_backoff_s=2, retry_max_delay_s=2,
               json_schema={'type': 'object', 'properties': {'key': {'type': 'string'}},
                            'required': ['key']})
def second_time(key):
    """Log start; fail on the first attempt, succeed on the second."""
    _log('start', key)
    if deferred.current().attempt == 1:
        raise OSError('the first attempt always fails')
    return 'second attempt'


if __name__ == '__main__':
    deferred.run_cli()
