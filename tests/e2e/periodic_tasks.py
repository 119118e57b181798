"""A periodic probe for restart tests: fires every 2 seconds and logs each run."""

import deferred
from probe_tasks import run_probe


@deferred.task(name='tick', every_s=2)
def tick():
    """Log a start and an end under this run's task id."""
    return run_probe(f'tick{deferred.current().task_id}')


if __name__ == '__main__':
    deferred.run_cli()
