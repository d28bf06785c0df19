#!/usr/bin/env bash
# Run a command in a test environment of its own: a PgBouncer (transaction mode, pool 2) on a
# free loopback port, database names unique to this run, and the loopback-only guard in every
# Python process; everything it started or created is removed when the command ends, fails or
# is interrupted. Usage: scripts/testenv.sh COMMAND [ARGS...]
#
# Exports: DOMAINBATCH_TEST_RUN (the run's id), DOMAINBATCH_TEST_POSTGRES_URL and
# DOMAINBATCH_TEST_PGBOUNCER_URL (domainbatch_test_<run>, created and dropped by the tests),
# TEST_PGBOUNCER_PORT, BENCH_PGBOUNCER_SERVER, PYTHONPATH (tests/loopback first) and
# TEST_LOOPBACK_LOG. Any database named *_<run> is dropped at the end.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PG="${TEST_POSTGRES_SERVER:-postgresql://postgres@127.0.0.1:5432}"

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  else
    echo "testenv: PostgreSQL does not answer on 127.0.0.1:5432 (start it first)" >&2
    exit 1
  fi
fi

RUN="${DOMAINBATCH_TEST_RUN:-$$_$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/domainbatch-testenv-$RUN-XXXX")"
chmod 755 "$WORK"  # PgBouncer runs as postgres and keeps its files in here
export DOMAINBATCH_TEST_RUN="$RUN"
export TEST_LOOPBACK_LOG="$WORK/loopback.log"
export PYTHONPATH="$REPO/tests/loopback:$REPO${PYTHONPATH:+:$PYTHONPATH}"

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -f "$WORK/pgbouncer/pgbouncer.pid" ]; then
    kill "$(cat "$WORK/pgbouncer/pgbouncer.pid")" 2>/dev/null || true
  fi
  python - "$PG" "$RUN" <<'PY' || true
import sys

import psycopg

server, run = sys.argv[1], sys.argv[2]
with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
    names = conn.execute(
        "select datname from pg_database where datname like %s", (f"%\\_{run}",)
    ).fetchall()
    for (name,) in names:
        conn.execute(f'drop database if exists "{name}" with (force)')
        print(f"testenv: dropped {name}", file=sys.stderr)
PY
  if grep -q '^VIOLATION' "$TEST_LOOPBACK_LOG" 2>/dev/null; then
    echo "testenv: connections off loopback were attempted (and refused):" >&2
    grep '^VIOLATION' "$TEST_LOOPBACK_LOG" | head -20 >&2
    status=1
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PGBOUNCER_PORT="$PORT" PGBOUNCER_DIR="$WORK/pgbouncer" bash "$REPO/.ci/pgbouncer.sh" >&2
export TEST_PGBOUNCER_PORT="$PORT"
export DOMAINBATCH_TEST_POSTGRES_URL="$PG/domainbatch_test_$RUN"
export DOMAINBATCH_TEST_PGBOUNCER_URL="postgresql://postgres@127.0.0.1:$PORT/domainbatch_test_$RUN"
export BENCH_PGBOUNCER_SERVER="postgresql://postgres@127.0.0.1:$PORT"
echo "testenv: run $RUN, PgBouncer on 127.0.0.1:$PORT" >&2
"$@"
