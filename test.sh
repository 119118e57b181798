#!/bin/sh
# Installs everything the tests need (Debian's chromium for the browser tests, .venv) and runs
# the whole suite. Extra arguments go to pytest, e.g. ./test.sh tests/unit -x
set -eu
cd "$(dirname "$0")"

# The browser tests drive Debian's chromium through Playwright; `playwright install` cannot
# download its own browser here, so it is never run.
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=""
    elif command -v sudo >/dev/null 2>&1; then
        as_root="sudo"
    else
        echo "test.sh: /usr/bin/chromium is missing and installing it needs root; run as root:" >&2
        echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium" >&2
        exit 1
    fi
    echo "test.sh: installing chromium with apt-get (for the browser tests)" >&2
    apt_log=$(mktemp)
    if ! { $as_root apt-get update -q && \
           $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
           >"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        rm -f "$apt_log"
        echo "test.sh: apt-get could not install chromium (output above)" >&2
        exit 1
    fi
    rm -f "$apt_log"
    if [ ! -x /usr/bin/chromium ]; then
        echo "test.sh: apt-get installed chromium but /usr/bin/chromium is still missing" >&2
        exit 1
    fi
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m pytest "$@"
