#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1 for the test suite and print its URI.
# Installs the server from Debian's packages when it is missing. Usage:
#   export AIRLOCK_TEST_POSTGRES_URI=$(bash scripts/start-postgres.sh)
set -euo pipefail
PORT="${AIRLOCK_PG_PORT:-54329}"
DATA="${AIRLOCK_PG_DATA:-/tmp/airlock-pg-$PORT}"
log() { echo "start-postgres: $*" >&2; }

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && echo "$d"
}

BIN=$(pg_bin || true)
if [ -z "$BIN" ]; then
  log "installing postgresql (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
  BIN=$(pg_bin)
fi

as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }

if ! as_pg "'$BIN/pg_isready' -q -h 127.0.0.1 -p $PORT" 2>/dev/null; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
  as_pg "'$BIN/initdb' -D '$DATA' -U postgres --auth=trust -E UTF8 >/dev/null"
  as_pg "'$BIN/pg_ctl' -D '$DATA' -l '$DATA/server.log' -w -o \"-h 127.0.0.1 -p $PORT -k /tmp -c fsync=off -c max_connections=200\" start >/dev/null"
  log "PostgreSQL running on 127.0.0.1:$PORT (data in $DATA)"
fi
as_pg "'$BIN/psql' -h 127.0.0.1 -p $PORT -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='airlock_test'\"" | grep -q 1 \
  || as_pg "'$BIN/createdb' -h 127.0.0.1 -p $PORT -U postgres airlock_test"
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/airlock_test"
