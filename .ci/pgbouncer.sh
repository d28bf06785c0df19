#!/usr/bin/env bash
# Start PgBouncer 1.18 (Debian) in transaction mode with a tiny pool in front of the local
# PostgreSQL, as the tests expect it: 127.0.0.1:6432, trust auth, default_pool_size 2.
# It refuses to run as root, so it runs as postgres. Idempotent: restarts a running one.
set -euo pipefail
PORT="${PGBOUNCER_PORT:-6432}"
DIR="${PGBOUNCER_DIR:-/tmp/domainbatch-pgbouncer}"
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  flock /tmp/domainbatch-apt.lock bash -c 'apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null'
fi
BIN="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
mkdir -p "$DIR"
cat > "$DIR/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
pool_mode = transaction
default_pool_size = 2
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
admin_users = postgres
stats_users = postgres
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
INI
printf '"postgres" ""\n"root" ""\n' > "$DIR/userlist.txt"
chown -R postgres:postgres "$DIR"
if [ -f "$DIR/pgbouncer.pid" ] && kill -0 "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null; then
  kill "$(cat "$DIR/pgbouncer.pid")"; sleep 1
fi
su postgres -s /bin/sh -c "$BIN -d $DIR/pgbouncer.ini"
for _ in $(seq 1 50); do
  if psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    echo "pgbouncer $("$BIN" --version | head -1) listening on 127.0.0.1:$PORT (transaction mode, pool 2)"
    exit 0
  fi
  sleep 0.2
done
echo "pgbouncer did not start; log:" >&2; cat "$DIR/pgbouncer.log" >&2; exit 1
