import { statement, type Database } from '../db/database';
import { MaintenanceRun } from './maintenance-run.entity';

/*
 * The claim on a periodic job (maintenance_runs): one statement each to take it, keep it, and give
 * it back. A holder keeps the job by renewing its lease in every batch's transaction; that UPDATE
 * locks the row until the batch commits, so a process taking over an expired lease waits for a batch
 * in flight, and the old holder's next renewal finds the job gone and stops: two runs never delete
 * at the same time.
 */

export interface JobHolder {
  holder: string | null;
  leaseExpiresAt: Date | null;
  lastFinishedAt: Date | null;
}

export const MAINTENANCE_SQL = {
  /**
   * Takes job $1 for holder $2 for $3 seconds, unless another holder's lease still runs, or (with
   * $4 > 0) a run finished less than $4 seconds ago. Creates the row on first use.
   */
  claim: statement(`INSERT INTO maintenance_runs AS r (job, holder, lease_expires_at, last_started_at)
VALUES ($1, $2, now() + make_interval(secs => $3), now())
ON CONFLICT (job) DO UPDATE SET holder = EXCLUDED.holder, lease_expires_at = EXCLUDED.lease_expires_at, last_started_at = EXCLUDED.last_started_at
 WHERE (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
   AND (r.last_finished_at IS NULL OR r.last_finished_at < now() - make_interval(secs => $4))
RETURNING r.job`),
  current: statement('SELECT holder, lease_expires_at AS "leaseExpiresAt", last_finished_at AS "lastFinishedAt" FROM maintenance_runs WHERE job = $1'),
  renew: statement('UPDATE maintenance_runs SET lease_expires_at = now() + make_interval(secs => $3) WHERE job = $1 AND holder = $2 RETURNING job'),
  finish: statement(
    'UPDATE maintenance_runs SET holder = NULL, lease_expires_at = NULL, last_finished_at = now(), last_result = $3::jsonb WHERE job = $1 AND holder = $2',
  ),
  release: statement('UPDATE maintenance_runs SET holder = NULL, lease_expires_at = NULL WHERE job = $1 AND holder = $2'),
} as const;

/** The periodic jobs' custom repository (TypeORM's Repository<MaintenanceRun>, extended); created once, by the composition root. */
export function createMaintenanceRunsRepository(database: Database) {
  return database.repository(MaintenanceRun).extend({
    /** True when `holder` now holds `job` for `leaseSeconds`. */
    async claim(job: string, holder: string, leaseSeconds: number, notWithinSeconds: number): Promise<boolean> {
      return (await database.rows(this.manager, MAINTENANCE_SQL.claim, [job, holder, leaseSeconds, notWithinSeconds])).length > 0;
    },

    /** Who holds `job` and when it last finished; undefined before its first run. */
    async current(job: string): Promise<JobHolder | undefined> {
      const [row] = await database.rows<JobHolder>(this.manager, MAINTENANCE_SQL.current, [job]);
      return row;
    },

    /** Extends the lease; false when `holder` no longer holds the job (it expired and was taken over). */
    async renew(job: string, holder: string, leaseSeconds: number): Promise<boolean> {
      return (await database.rows(this.manager, MAINTENANCE_SQL.renew, [job, holder, leaseSeconds])).length > 0;
    },

    /** Gives the job back after a complete run, recording what it did. */
    async finish(job: string, holder: string, result: Record<string, unknown>): Promise<void> {
      await database.rows(this.manager, MAINTENANCE_SQL.finish, [job, holder, JSON.stringify(result)]);
    },

    /** Gives the job back after an interrupted or failed run; the last complete run stays on record. */
    async release(job: string, holder: string): Promise<void> {
      await database.rows(this.manager, MAINTENANCE_SQL.release, [job, holder]);
    },
  });
}

export type MaintenanceRunsRepository = ReturnType<typeof createMaintenanceRunsRepository>;
