#!/usr/bin/env bash
# Make sure the services the test suite starts for itself are installed.
#
# - A PostgreSQL server: tests/conftest.py (fixture ``postgres_url``) runs ``initdb`` and
#   ``pg_ctl`` on a throw-away data directory.
# - Debian's Chromium: the console's browser tests (tests/console) drive it headless with
#   Playwright (``executable_path``; Playwright downloads no browser of its own).
#
# Idempotent: does nothing for what is already there. Installs with apt-get when run as
# root on a Debian/Ubuntu machine; otherwise prints what to do. It never starts a server.
set -euo pipefail

have_postgres() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        return 0
    fi
    local bindir
    for bindir in /usr/lib/postgresql/*/bin; do
        if [[ -x "$bindir/initdb" && -x "$bindir/pg_ctl" ]]; then
            return 0
        fi
    done
    return 1
}

have_chromium() {
    command -v chromium >/dev/null 2>&1
}

missing=()
have_postgres || missing+=(postgresql)
have_chromium || missing+=(chromium)
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test-services: installing ${missing[*]} (apt-get install)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    if have_postgres && have_chromium; then
        exit 0
    fi
    echo "test-services: apt-get ran but ${missing[*]} is still missing" >&2
    exit 1
fi

cat >&2 <<NOTE
test-services: missing ${missing[*]}, and this script can only install them as root with
apt-get. Install them yourself (e.g. \`sudo apt-get install ${missing[*]}\`); until then
the PostgreSQL tests (tests/db/test_postgres.py) or the console's browser tests
(tests/console/test_browser.py) fail.
NOTE
exit 0
