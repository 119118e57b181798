#!/bin/sh
# Installs everything the tests need into .venv and runs the whole suite.
# Extra arguments go to pytest, e.g. ./test.sh tests/unit -x
set -eu
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m pytest "$@"
