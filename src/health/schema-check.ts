import type { Database } from '../db/database';

/** What /ready and the start-up log say while migrations are missing. */
export function describePendingMigrations(count: number): string {
  return `${count} migration${count === 1 ? '' : 's'} pending: run migration:run`;
}

/**
 * Whether the database has every migration this build carries. A build started against an older
 * schema must not report ready (its queries would fail with "relation … does not exist"), and must
 * turn ready by itself once a separate job applies the migrations. Once the schema is seen up to
 * date that is remembered, so /ready does not query the migrations table on every probe: while
 * this version runs, migrations are only ever added (going back is a deploy of the older version).
 */
export class SchemaCheck {
  private upToDate = false;
  private checking: Promise<string[]> | undefined;

  constructor(private readonly database: Pick<Database, 'pendingMigrations'>) {}

  /** Names of the migrations the database lacks; throws as a query does when the database cannot be reached. */
  async pending(): Promise<string[]> {
    if (this.upToDate) return [];
    // Probes arriving together share one look at the migrations table.
    this.checking ??= this.database.pendingMigrations().finally(() => {
      this.checking = undefined;
    });
    const pending = await this.checking;
    if (pending.length === 0) this.upToDate = true;
    return pending;
  }
}
