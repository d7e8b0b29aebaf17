import { Counter, Gauge, type Registry } from 'prom-client';
import type { Database } from '../db/database';

/**
 * The read replicas in /metrics, registered only when DATABASE_READ_URLS names some (a single node's
 * /metrics does not change). Every value is read at scrape time from what the replica monitor last
 * polled: a scrape runs no query. Replicas are labelled `replica-1`, `replica-2`, … in the order of
 * DATABASE_READ_URLS, never by their URLs (which carry credentials).
 */
export function registerReplicaMetrics(registry: Registry, database: Pick<Database, 'replicaStatuses' | 'readsByTarget'>, maxLagMs: number): void {
  const statuses = () => database.replicaStatuses() ?? [];
  new Gauge({
    name: 'db_replica_up',
    help: '1 while the read replica answers as a standby (serving or lagging), 0 while it is down',
    labelNames: ['replica'],
    registers: [registry],
    collect() {
      for (const replica of statuses()) this.set({ replica: replica.name }, replica.state === 'down' ? 0 : 1);
    },
  });
  new Gauge({
    name: 'db_replica_lag_seconds',
    help: "How old the read replica's data may be: seconds since the primary last stood where the replica has replayed to (absent while it is down)",
    labelNames: ['replica'],
    registers: [registry],
    collect() {
      this.reset();
      for (const replica of statuses()) if (replica.lagSeconds !== null) this.set({ replica: replica.name }, replica.lagSeconds);
    },
  });
  new Gauge({
    name: 'db_replica_lag_bytes',
    help: 'WAL bytes the primary has written that the read replica has not replayed (absent while it is down)',
    labelNames: ['replica'],
    registers: [registry],
    collect() {
      this.reset();
      for (const replica of statuses()) if (replica.lagBytes !== null) this.set({ replica: replica.name }, replica.lagBytes);
    },
  });
  new Gauge({
    name: 'db_replica_max_lag_seconds',
    help: 'DATABASE_READ_MAX_LAG_MS, in seconds: a replica further behind is not read from',
    registers: [registry],
  }).set(maxLagMs / 1000);
  new Counter({
    name: 'db_reads_total',
    help: 'Reads of task data that a read replica may answer (outside transactions), by the database that answered: primary or replica-N',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { target, reads } of database.readsByTarget() ?? []) this.inc({ target }, reads);
    },
  });
}
