import { statement, type Database } from '../db/database';
import { LoginAttemptCount, type LoginCounterKind } from './login-attempt-count.entity';

/*
 * All SQL of the login rate limits (login_attempt_counts). Every login counts here, in one
 * statement per counter, before any password is checked: the statement is the whole algorithm, so
 * it is written by hand and prepared (see Database.rows). Clearing a counter after a success uses
 * TypeORM's Repository API.
 *
 * Time is the database's (now()), never a process's clock, so every process agrees on when a
 * window ends.
 */

/** How many attempts a counter holds in its current window, and how long until that window ends. */
export interface CounterState {
  attempts: number;
  /** Whole seconds until the window ends, at least 1: what Retry-After says. */
  retryAfterSeconds: number;
}

/** The key of one counter. */
export interface CounterKey {
  kind: LoginCounterKind;
  address: string;
  /** '' for `attempts`. */
  account: string;
}

export const LOGIN_ATTEMPT_SQL = {
  /**
   * Counts one attempt and answers the count, atomically: concurrent upserts of one key queue on
   * its row lock and each sees the previous one's count, so a parallel burst is counted exactly.
   * A row whose window has ended starts a new one-minute window at 1.
   */
  count: statement(`INSERT INTO login_attempt_counts AS c (kind, address, account, attempts, window_ends_at)
VALUES ($1, $2, $3, 1, now() + interval '1 minute')
ON CONFLICT ON CONSTRAINT login_attempt_counts_pkey DO UPDATE
   SET attempts = CASE WHEN c.window_ends_at > now() THEN c.attempts + 1 ELSE 1 END,
       window_ends_at = CASE WHEN c.window_ends_at > now() THEN c.window_ends_at ELSE EXCLUDED.window_ends_at END
RETURNING attempts, greatest(1, ceil(extract(epoch FROM window_ends_at - now())))::int AS "retryAfterSeconds"`),

  /**
   * Deletes at most $1 rows whose window has ended, oldest first (on the window index). Rows
   * another process is counting or deleting right now are skipped, not waited for.
   */
  sweep: statement(`DELETE FROM login_attempt_counts
 WHERE (kind, address, account) IN (
       SELECT kind, address, account FROM login_attempt_counts
        WHERE window_ends_at <= now() ORDER BY window_ends_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING 1`),
} as const;

/** The login counters' custom repository (TypeORM's Repository<LoginAttemptCount>, extended); created once, by the app. */
export function createLoginAttemptsRepository(database: Database) {
  return database.repository(LoginAttemptCount).extend({
    /** Counts one attempt under `key`; answers the count in the current window. */
    async countAttempt(key: CounterKey): Promise<CounterState> {
      const [state] = await database.rows<CounterState>(this.manager, LOGIN_ATTEMPT_SQL.count, [key.kind, key.address, key.account]);
      return state;
    },

    /** Forgets a counter (a successful login clears its account's failures). */
    async clear(key: CounterKey): Promise<void> {
      await this.delete({ kind: key.kind, address: key.address, account: key.account });
    },

    /** Deletes up to `limit` counters whose window has ended; answers how many it deleted. */
    async deleteEnded(limit: number): Promise<number> {
      return (await database.rows(this.manager, LOGIN_ATTEMPT_SQL.sweep, [limit])).length;
    },
  });
}

export type LoginAttemptsRepository = ReturnType<typeof createLoginAttemptsRepository>;
