"""Probe tasks for several servers on one database: `x` and `y`, so that a per-name limit
and the global one can both be watched in the shared probe log (PROBE_DIR)."""

import deferred
from probe_tasks import run_probe

SCHEMA = {'type': 'object',
          'properties': {'key': {'type': 'string'}, 'hold_while': {'type': 'string'},
                         'seconds': {'type': 'number', 'minimum': 0}},
          'required': ['key']}


@deferred.task(name='x', json_schema=SCHEMA)
def x(key, hold_while=None, seconds=0):
    """A probe under the name x."""
    return run_probe(key, hold_while, seconds)


@deferred.task(name='y', json_schema=SCHEMA)
def y(key, hold_while=None, seconds=0):
    """A probe under the name y."""
    return run_probe(key, hold_while, seconds)


if __name__ == '__main__':
    deferred.run_cli()
