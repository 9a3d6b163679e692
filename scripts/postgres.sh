#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers at $PGHOST:$PGPORT (default 127.0.0.1:5432) with trust
# auth for user postgres, installing and starting Debian's `postgresql` when it does not.
# Idempotent: a server that already answers is left alone. Needs root for the install/start.
set -euo pipefail

PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"

answers() {
  command -v psql >/dev/null 2>&1 &&
    psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc 'select 1' >/dev/null 2>&1
}

if answers; then
  echo "postgres: already answering at $PGHOST:$PGPORT"
  exit 0
fi

if [[ "$PGHOST" != "127.0.0.1" && "$PGHOST" != "localhost" ]]; then
  echo "postgres: nothing answers at $PGHOST:$PGPORT and it is not local, so it cannot be started here" >&2
  exit 1
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "postgres: installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql postgresql-client >/dev/null
fi

# The newest installed major version, and its cluster (created if the package did not).
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$ver main"; then
  pg_createcluster "$ver" main >/dev/null
fi
conf="/etc/postgresql/$ver/main"

# Trust auth on loopback (and the local socket) for every user: test databases only.
hba="$conf/pg_hba.conf"
if ! grep -q '^# sundial: trust$' "$hba"; then
  cp "$hba" "$hba.orig"
  cat >"$hba" <<'EOF'
# sundial: trust
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
host    all   all   ::1/128       trust
EOF
fi
sed -i "s/^#\?port = .*/port = $PGPORT/" "$conf/postgresql.conf"
sed -i "s/^#\?listen_addresses = .*/listen_addresses = '127.0.0.1'/" "$conf/postgresql.conf"
# Enough connections for the multi-process and fault tests (several pools at once).
sed -i "s/^#\?max_connections = .*/max_connections = 300/" "$conf/postgresql.conf"

status=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $4}')
if [[ "$status" == online* ]]; then
  pg_ctlcluster "$ver" main reload
else
  pg_ctlcluster "$ver" main start
fi

for _ in $(seq 1 60); do
  if answers; then
    echo "postgres: $ver/main answering at $PGHOST:$PGPORT"
    exit 0
  fi
  sleep 0.5
done
echo "postgres: $ver/main did not answer at $PGHOST:$PGPORT" >&2
tail -20 "/var/log/postgresql/postgresql-$ver-main.log" >&2 || true
exit 1
