"""Sample tasks: the specification's examples, and a few that show the rest.

    python sample_tasks.py --help
    python sample_tasks.py multiprint --params '{"msg": "hello", "count": 2}'
"""

import functools
import operator
import os
import tempfile
import time

import deferred


@deferred.task(name='multiprint',
               json_schema={'type': 'object',
                            'properties': {
                                'msg': {'type': 'string', 'maxLength': 1000},
                                'count': {'type': 'integer', 'minimum': 1,
                                          'maximum': 10000}},  # bounds the result's size
                            'required': ['msg']})
def multi_print(msg, count=1):
    """Repeat a message, one line per repetition."""
    return '\n'.join(msg for _ in range(count))


class Multiply(deferred.BaseTask):
    """Multiply numbers together."""

    name = 'mult'
    json_schema = {'type': 'object',
                   'properties': {'operands': {'type': 'array', 'minItems': 1,
                                               'items': {'type': 'number'}}},
                   'required': ['operands']}

    def run(operands):  # written without self, as the original examples are
        return functools.reduce(operator.mul, operands)


def prepare_stats_file(path):
    """Write a small table of statistics about this machine to `path`."""
    load_1, load_5, load_15 = os.getloadavg()
    rows = [('metric', 'value'), ('cpus', os.cpu_count()), ('load_1m', load_1),
            ('load_5m', load_5), ('load_15m', load_15), ('pid', os.getpid())]
    with open(path, 'w') as fd:
        fd.writelines(f'{name}\t{value}\n' for name, value in rows)


@deferred.task(name='get_statistics')
def get_statistics():
    """Collect statistics and return them as a TSV file."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, 'stats.tsv')
        prepare_stats_file(path)
        with open(path) as fd:
            return deferred.Result(msg='Complete statistics',
                                   files=[{'name': 'statistics.tsv', 'data': fd}])


@deferred.task(name='slow',
               json_schema={'type': 'object',
                            'properties': {'seconds': {'type': 'number', 'minimum': 0,
                                                       'maximum': 3600}},
                            'required': ['seconds']})
def slow(seconds):
    """Sleep for `seconds`, then say how long it slept.

    A cancel stops it early (it ends CANCELLED)."""
    started = time.monotonic()
    context = deferred.current()
    context.wait_cancelled(seconds)
    context.check_cancelled()
    return {'slept_s': round(time.monotonic() - started, 3)}


@deferred.task(name='fail',
               json_schema={'type': 'object',
                            'properties': {'message': {'type': 'string'}}})
def fail(message='this task always fails'):
    """Raise an error, to show how failures are reported."""
    raise RuntimeError(message)


if __name__ == '__main__':
    deferred.run_cli()
