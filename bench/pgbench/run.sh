#!/usr/bin/env bash
# The primary's own limit on the service's hot statements (docs/scaling.md): pgbench at 10, 20 and
# 50 clients, BENCH_SECONDS (5) each, on a database migrated and bulk-seeded beforehand:
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/todo npm run migration:run
#   DATABASE_URL=… npm run seed -- --users 100 --tasks-per-user 1000
#   DATABASE_URL=… PGBENCH=/usr/lib/postgresql/15/bin/pgbench bench/pgbench/run.sh
#
# It adds a session per user and the bench_keys table (setup.sql) to that database: use a scratch one.
set -euo pipefail
cd "$(dirname "$0")"
: "${DATABASE_URL:?the database to measure (migrated and bulk-seeded)}"
PGBENCH=${PGBENCH:-pgbench}
seconds=${BENCH_SECONDS:-5}
psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 -f setup.sql
keys=$(psql "$DATABASE_URL" -Atc 'SELECT count(*) FROM bench_keys')
echo "$(psql "$DATABASE_URL" -Atc 'SELECT version()'); $keys live tasks"
echo "$(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); $(date -u +%FT%TZ)"
for script in get-by-id key-lookup create; do
  for clients in 10 20 50; do
    echo "== $script.sql, $clients clients (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$PGBENCH" "$DATABASE_URL" -n -M prepared -c "$clients" -j 2 -T "$seconds" -D keys="$keys" -f "$script.sql" 2>&1 |
      grep -E 'transactions actually processed|failed transactions|latency average|^tps|abort'
  done
done
