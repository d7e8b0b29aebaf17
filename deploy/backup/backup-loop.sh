#!/bin/sh
# The compose file's `backup` service (docs/operations.md). In the official postgres image, whose
# pg_dump has the server's major version:
#   backup-loop.sh        a backup at once, then one every BACKUP_INTERVAL_SECONDS (the service)
#   backup-loop.sh once   one backup now, then exit: docker compose run --rm backup once
# Each backup is `pg_dump --format=custom` of the database the PG* variables name (PGHOST, PGUSER,
# PGDATABASE, PGPASSWORD) into BACKUP_DIR, named by UTC time as `npm run db:backup` names them
# (todo-20261201T101500Z.dump). pg_dump writes to a hidden temporary name, renamed only once it has
# succeeded, so a todo-*.dump is always complete. Then only the newest BACKUP_KEEP archives are
# kept (0 keeps all); no other file in BACKUP_DIR is ever deleted.
set -eu

dir=${BACKUP_DIR:-/backups}
keep=${BACKUP_KEEP:-14}
interval=${BACKUP_INTERVAL_SECONDS:-86400}
retry=${BACKUP_RETRY_SECONDS:-300}

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"; }

# Newest first: by the time in the name, then by the -N of a second backup in the same second.
archives_newest_first() {
  ls -1A "$dir" \
    | sed -n -E -e 's/^(todo-([0-9]{8}T[0-9]{6}Z)-([1-9][0-9]*)\.dump)$/\2 \3 \1/p' -e 's/^(todo-([0-9]{8}T[0-9]{6}Z)\.dump)$/\2 1 \1/p' \
    | sort -k1,1r -k2,2nr | cut -d' ' -f3
}

prune() {
  [ "$keep" -eq 0 ] && return 0
  archives_newest_first | tail -n "+$((keep + 1))" | while IFS= read -r old; do
    rm -f "$dir/$old"
    log "deleted $old (BACKUP_KEEP=$keep)"
  done
}

backup() {
  mkdir -p "$dir"
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  name="todo-$stamp.dump"
  sequence=1
  while [ -e "$dir/$name" ]; do sequence=$((sequence + 1)); name="todo-$stamp-$sequence.dump"; done
  partial="$dir/.$name.$$.partial"
  started=$(date +%s)
  if ! pg_dump --format=custom --no-password --file="$partial"; then
    rm -f "$partial"
    log "pg_dump of ${PGDATABASE:-?} on ${PGHOST:-?} failed: no archive written" >&2
    return 1
  fi
  mv "$partial" "$dir/$name"
  log "wrote $name: $(du -h "$dir/$name" | cut -f1) in $(($(date +%s) - started)) s"
  prune
}

if [ "${1:-}" = once ]; then
  backup
  exit
fi

# PID 1 in a container: without a handler, SIGTERM would wait for the stop timeout's SIGKILL.
trap 'log "stopping"; exit 0' TERM INT
log "backing up ${PGDATABASE:-?} on ${PGHOST:-?} every $interval s into $dir, keeping the newest $keep"
while :; do
  if backup; then pause=$interval; else pause=$retry; fi
  sleep "$pause" &
  wait $! || true
done
