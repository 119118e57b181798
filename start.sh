#!/bin/sh
# Installs deferred into .venv and runs the sample task of the specification.
# Extra arguments replace the task to run, e.g. ./start.sh mult --params '{"operands": [3, 2, 8]}'
set -eu
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
if [ "$#" -eq 0 ]; then
    set -- multiprint --params '{"msg": "hello", "count": 2}'
fi
exec .venv/bin/python sample_tasks.py "$@"
