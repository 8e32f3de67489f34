#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, then exits.
#   - a virtualenv (.venv) with cookieguard and its dev extras
#   - a Chromium for Playwright: a system one (Debian's `chromium`) when we can install it,
#     otherwise Playwright's own download (`playwright install chromium`)
#   - a PostgreSQL server (Debian's `postgresql`) for the receipt-store tests
#   - npm, which fetches axe-core for the accessibility test and @duckduckgo/autoconsent for
#     the auto-answer test (both pinned by integrity, by `npm pack` into the test cache)
# Safe to run repeatedly: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 \
    | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -c "import cookieguard, starlette, flask, playwright, psycopg" \
    || { echo "bootstrap: Python dependencies did not install" >&2; exit 1; }

apt_updated=0
apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        return 1
    fi
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Chromium: an explicit path wins, then a system Chromium, then Playwright's own.
if [ -n "${COOKIEGUARD_CHROMIUM:-}" ]; then
    echo "bootstrap: using Chromium at $COOKIEGUARD_CHROMIUM"
elif command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
    echo "bootstrap: using system Chromium"
elif apt_install chromium; then
    echo "bootstrap: installed Debian's chromium"
else
    "$VENV/bin/python" -m playwright install chromium
fi

# npm fetches axe-core and @duckduckgo/autoconsent (pinned, hash-checked) for the browser tests.
if command -v npm >/dev/null; then
    echo "bootstrap: npm found"
elif apt_install npm; then
    echo "bootstrap: installed Debian's npm"
else
    echo "bootstrap: no npm; the axe-core and autoconsent browser tests will fail" >&2
fi

# PostgreSQL server binaries (the tests start their own throwaway cluster).
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then
    echo "bootstrap: PostgreSQL found"
elif apt_install postgresql; then
    echo "bootstrap: installed Debian's postgresql"
else
    echo "bootstrap: no PostgreSQL server; install one (initdb on PATH) to run those tests" >&2
fi

# wrk drives `make bench`'s loopback rows (benchmarks/_loopback.py; without it a slower
# Python load generator stands in, and the rows say so).
if command -v wrk >/dev/null; then
    echo "bootstrap: wrk found"
elif apt_install wrk; then
    echo "bootstrap: installed Debian's wrk"
else
    echo "bootstrap: no wrk; make bench's loopback rows use the Python load generator" >&2
fi
