"""Tasks for the poison-pill tests: `probe` (registered by probe_tasks) and `poison`, which
kills the process that runs it, as a segfault in an extension or the OOM killer would."""

import os

import deferred
from probe_tasks import _log  # registers `probe` too

SCHEMA = {'type': 'object', 'properties': {'key': {'type': 'string'}}, 'required': ['key']}


@deferred.task(name='poison', json_schema=SCHEMA)
def poison(key):
    """Log start, then end the whole process at once: no cleanup, no outcome."""
    _log('start', key)
    os._exit(1)


if __name__ == '__main__':
    deferred.run_cli()
