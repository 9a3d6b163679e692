#!/bin/sh
# Entry point of the local postgres stand-in (see Dockerfile): initialises PGDATA on first
# start like the official image (superuser POSTGRES_USER with POSTGRES_PASSWORD, database
# POSTGRES_DB, password auth for TCP clients), then runs the server in the foreground.
set -eu

if [ "${1:-postgres}" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
    echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
    echo "       (set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
  initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host="$auth" >/dev/null
  rm -f "$pwfile"
  printf 'host all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
    psql --username="$user" --dbname=postgres --set ON_ERROR_STOP=1 --quiet \
      --command="CREATE DATABASE \"$db\"" >/dev/null
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
  fi
  echo "PostgreSQL init process complete; ready for start up."
fi

if [ "$#" -gt 0 ]; then shift; fi
exec postgres "$@"
