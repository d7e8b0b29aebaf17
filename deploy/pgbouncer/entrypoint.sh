#!/bin/sh
# Writes PgBouncer's configuration from the environment, then runs it (arguments are passed on:
# CI adds -d to run it in the background). The settings that never change are in pooling.ini.
#
#   DB_HOST, DB_PORT (5432)   the PostgreSQL server; every database on it is reachable by name
#   DB_USER, DB_PASSWORD      the one account clients log in with (SCRAM), also used on the server
#   LISTEN_ADDR (0.0.0.0), LISTEN_PORT (6432)
#   POOL_SIZE (20)            server connections per database: what PostgreSQL's max_connections must hold
#   MAX_CLIENT_CONN (1000)    client connections: every API process's DB_POOL_SIZE, added up
#   STATEMENT_TIMEOUT_MS (10000)  statement_timeout of every server connection (0: none)
#   LOG_FILE (none: stderr)   where to log; needed with -d
#   PGBOUNCER_DIR (/tmp/pgbouncer)  where the generated files go
#   PGBOUNCER_SETTINGS (/etc/pgbouncer/pooling.ini)  the settings that never change
set -eu
: "${DB_HOST:?set DB_HOST}" "${DB_USER:?set DB_USER}" "${DB_PASSWORD:?set DB_PASSWORD}"
dir=${PGBOUNCER_DIR:-/tmp/pgbouncer}
settings=${PGBOUNCER_SETTINGS:-/etc/pgbouncer/pooling.ini}
umask 077
mkdir -p "$dir"

# auth_file format: "user" "password", a double quote inside doubled.
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
printf '%s %s\n' "$(quote "$DB_USER")" "$(quote "$DB_PASSWORD")" >"$dir/userlist.txt"

cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$DB_HOST port=${DB_PORT:-5432} connect_query='SET statement_timeout = ${STATEMENT_TIMEOUT_MS:-10000}'

[pgbouncer]
listen_addr = ${LISTEN_ADDR:-0.0.0.0}
listen_port = ${LISTEN_PORT:-6432}
unix_socket_dir =
pidfile = $dir/pgbouncer.pid
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
default_pool_size = ${POOL_SIZE:-20}
max_client_conn = ${MAX_CLIENT_CONN:-1000}
${LOG_FILE:+logfile = $LOG_FILE}
%include $settings
INI

exec pgbouncer "$@" "$dir/pgbouncer.ini"
