#!/usr/bin/env bash
# Make sure the services the test suite starts for itself are installed.
#
# Today that is a PostgreSQL server: tests/conftest.py (fixture ``postgres_url``) runs
# ``initdb`` and ``pg_ctl`` on a throw-away data directory. Idempotent: does nothing when
# the server binaries are already there. Installs them with apt-get when run as root on a
# Debian/Ubuntu machine; otherwise prints what to do. It never starts a server itself.
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

if have_postgres; then
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test-services: installing the PostgreSQL server (apt-get install postgresql)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
    if have_postgres; then
        exit 0
    fi
    echo "test-services: apt-get installed postgresql but initdb/pg_ctl are still missing" >&2
    exit 1
fi

cat >&2 <<'NOTE'
test-services: no PostgreSQL server found (initdb/pg_ctl not on PATH nor in
/usr/lib/postgresql/*/bin), and this script can only install it as root with apt-get.
Install it yourself (e.g. `sudo apt-get install postgresql`, `brew install postgresql`);
until then the PostgreSQL tests (tests/db/test_postgres.py) fail.
NOTE
exit 0
