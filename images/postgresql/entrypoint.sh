#!/bin/sh
# Makes the database cluster on first start (as the official postgres image does, from the same
# variables), then runs the command: postgres, in the foreground.
set -eu
: "${PGDATA:?PGDATA must name the data folder}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (the chart takes it from a Secret)}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  # The password reaches initdb through a file in the data volume, never a command line.
  pwfile="$PGDATA/../.initdb-password"
  ( umask 077; printf '%s' "$POSTGRES_PASSWORD" > "$pwfile" )
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 -D "$PGDATA" > /dev/null
  rm -f "$pwfile"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$db" != "postgres" ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\";" | postgres --single -D "$PGDATA" postgres > /dev/null
  fi
  echo "postgres-entrypoint: created database $db for user $user in $PGDATA"
fi
exec "$@"
