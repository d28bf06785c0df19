#!/usr/bin/env bash
# The README's test command: on a machine of our kind (PostgreSQL running), install what the
# tests need and run the whole suite in an environment of its own (scripts/testenv.sh: its own
# PgBouncer and databases, the loopback-only guard), then remove what it started.
#   scripts/test.sh [PYTEST ARGS...]
# Parts that cannot be installed (no root, no package) are said here; the tests that need them
# then fail with a one-line reason.
set -euo pipefail
cd "$(dirname "$0")/.."

# One install at a time (two runs started at once share site-packages).
flock /tmp/domainbatch-pip.lock python -m pip install -q -e ".[test,bench]"

missing=()
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
[ -x /usr/bin/chromium ] || missing+=(chromium)  # the dashboard's browser test
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)  # bench smoke
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing ${missing[*]} (Debian packages)" >&2
    # One apt at a time: two test runs started at once would otherwise race for its locks.
    flock /tmp/domainbatch-apt.lock bash -c 'apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
      >/dev/null' _ "${missing[@]}"
  else
    echo "test.sh: cannot install ${missing[*]} (needs root and apt-get):" \
      "the tests that need them will fail" >&2
  fi
fi

exec bash scripts/testenv.sh python -m pytest -q --durations=25 "$@"
