#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the tests and prints its URL.
# Installs Debian's server package when it is missing (as root). The data directory lives
# under $PORTCULLIS_PG_DIR (default: a fresh temp dir); stop it with `scripts/postgres.sh stop`.
set -euo pipefail

port="${PORTCULLIS_PG_PORT:-55432}"
dir="${PORTCULLIS_PG_DIR:-/tmp/portcullis-pg-$port}"

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

if [ "${1:-}" = "stop" ]; then
  bin=$(find_bin) || exit 0
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir' -m fast stop" >/dev/null 2>&1 || true
  else
    "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
  fi
  exit 0
fi

if ! bin=$(find_bin); then
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL server is not installed and this is not root: install postgresql" >&2
    exit 1
  fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
  bin=$(find_bin)
fi

# initdb and postgres refuse to run as root: run them as the postgres user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

if [ ! -f "$dir/PG_VERSION" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  as_pg "$bin/initdb -D '$dir' -U postgres --auth=trust -E UTF8 >/dev/null"
fi
if ! as_pg "$bin/pg_ctl -D '$dir' status" >/dev/null 2>&1; then
  as_pg "$bin/pg_ctl -D '$dir' -l '$dir/server.log' -w -t 30 \
    -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off\" start" >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
