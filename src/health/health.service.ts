import type { Database } from '../db/database';
import { ServiceUnavailable } from '../errors';
import { describePendingMigrations, SchemaCheck } from './schema-check';

/** Readiness: the database answers, and it has every migration this build carries. */
export class HealthService {
  private readonly schema: SchemaCheck;

  constructor(private readonly database: Pick<Database, 'ready' | 'pendingMigrations'>) {
    this.schema = new SchemaCheck(database);
  }

  /** Resolves when ready; throws ServiceUnavailable saying why not. */
  async ready(): Promise<void> {
    let pending: string[];
    try {
      await this.database.ready();
      pending = await this.schema.pending();
    } catch (error) {
      throw new ServiceUnavailable('Database unavailable', error);
    }
    if (pending.length) throw new ServiceUnavailable(describePendingMigrations(pending.length));
  }
}
