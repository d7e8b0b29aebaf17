import { statement, type Statement } from './database';

/** A retention rule's statements: `expired`'s parameters ($1: the cutoff, and any more it uses), then, for `purge`, the batch size. */
export interface PurgeStatements {
  /** How many rows match now (what `npm run purge -- --dry-run` prints). */
  count: Statement;
  /** Deletes at most (batch size) matching rows and returns their ids. */
  purge: Statement;
}

/**
 * The two statements of a retention rule over `table` (its primary key is `id`). The delete picks
 * its rows first, by primary key, locking them with SKIP LOCKED: it never waits for a row a request
 * or another purge holds (that row is left for the next batch), and it deletes exactly the rows it
 * picked, so two purges at once never delete one row twice nor wait on each other.
 */
export function purgeStatements(table: string, expired: string, parameters = 1): PurgeStatements {
  return {
    count: statement(`SELECT count(*)::int AS count FROM ${table} WHERE ${expired}`),
    purge: statement(
      `DELETE FROM ${table} WHERE id = ANY(ARRAY(SELECT id FROM ${table} WHERE ${expired} LIMIT $${parameters + 1} FOR UPDATE SKIP LOCKED)) RETURNING id`,
    ),
  };
}
