#!/bin/sh
# Installs deferred into .venv and starts the server with sample_tasks.py on the SQLite default.
# Extra arguments go to sample_tasks.py instead, e.g. ./start.sh mult --params '{"operands": [3, 2, 8]}'
set -eu
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
if [ "$#" -eq 0 ]; then
    set -- runserver
fi
exec .venv/bin/python sample_tasks.py "$@"
