# PgBouncer for CI: Debian's (1.18, the version deploy/pgbouncer's image runs), in transaction mode
# on loopback in front of a PostgreSQL on this machine, started by that image's own entrypoint with
# its own settings (deploy/pgbouncer/pooling.ini). Sourced:
#
#   source .ci/pgbouncer.sh
#   pgbouncer_start 5432                # the PostgreSQL's port on 127.0.0.1; sets PGBOUNCER_URL
#   TEST_DATABASE_URL=… TEST_PGBOUNCER_URL="$PGBOUNCER_URL" DB_PREPARED_STATEMENTS=false npm test
#   pgbouncer_stop
#
# PgBouncer logs in as the server's `postgres` user (the CI server trusts it on loopback); clients
# log in to PgBouncer with SCRAM and a password made for this run, as the compose service's do.

PGBOUNCER_BIN=${PGBOUNCER_BIN:-/usr/sbin/pgbouncer}

# It refuses to run as root: as root, run it as the postgres OS user.
pgbouncer_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

pgbouncer_install() {
  [[ -x $PGBOUNCER_BIN ]] && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing Debian's pgbouncer"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq pgbouncer >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq pgbouncer >/dev/null; }
  fi
  [[ -x $PGBOUNCER_BIN ]]
}

pgbouncer_start() {
  local server_port=${1:?usage: pgbouncer_start POSTGRES_PORT}
  pgbouncer_install || { echo "No pgbouncer at $PGBOUNCER_BIN and none could be installed" >&2; return 1; }
  PGBOUNCER_DIR=$(mktemp -d /tmp/todo-ci-pgbouncer-XXXXXX)
  cp deploy/pgbouncer/entrypoint.sh deploy/pgbouncer/pooling.ini "$PGBOUNCER_DIR/"
  chmod 755 "$PGBOUNCER_DIR"
  [[ $(id -u) -eq 0 ]] && chown -R postgres "$PGBOUNCER_DIR"
  local port password
  port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  password=$(node -e "console.log(require('crypto').randomBytes(16).toString('hex'))")
  # Each test file's database gets a pool of its own; 10 server connections each, as many as the
  # service's DB_POOL_SIZE, keeps two jest workers well inside PostgreSQL's max_connections (100).
  pgbouncer_as_owner "DB_HOST=127.0.0.1 DB_PORT=$server_port DB_USER=postgres DB_PASSWORD=$password \
    LISTEN_ADDR=127.0.0.1 LISTEN_PORT=$port POOL_SIZE=10 MAX_CLIENT_CONN=500 STATEMENT_TIMEOUT_MS=0 \
    PGBOUNCER_DIR=$PGBOUNCER_DIR PGBOUNCER_SETTINGS=$PGBOUNCER_DIR/pooling.ini LOG_FILE=$PGBOUNCER_DIR/pgbouncer.log \
    sh $PGBOUNCER_DIR/entrypoint.sh -d"
  local _
  for _ in $(seq 1 50); do
    if node -e "require('net').connect($port,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"; then
      PGBOUNCER_URL="postgres://postgres:$password@127.0.0.1:$port/postgres"
      echo "PgBouncer $("$PGBOUNCER_BIN" --version | head -1 | cut -d' ' -f2) (transaction pooling) on 127.0.0.1:$port, in front of 127.0.0.1:$server_port"
      return 0
    fi
    sleep 0.1
  done
  echo "PgBouncer did not start:" >&2
  cat "$PGBOUNCER_DIR/pgbouncer.log" >&2 2>/dev/null || true
  pgbouncer_stop
  return 1
}

pgbouncer_stop() {
  [[ -n ${PGBOUNCER_DIR:-} ]] || return 0
  local pid
  pid=$(cat "$PGBOUNCER_DIR/pgbouncer.pid" 2>/dev/null || true)
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$PGBOUNCER_DIR"
  PGBOUNCER_DIR=
}
