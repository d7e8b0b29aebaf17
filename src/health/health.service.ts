import type { Database } from '../db/database';
import type { ReplicaStatus } from '../db/replicas';
import { ServiceUnavailable } from '../errors';
import { describePendingMigrations, SchemaCheck } from './schema-check';

/**
 * Readiness: the database answers, and it has every migration this build carries. Read replicas
 * are reported as the monitor last saw them (no query per probe), and never make the service
 * unready: reads skip a replica that is down or lagging, and the primary serves them.
 */
export class HealthService {
  private readonly schema: SchemaCheck;

  constructor(private readonly database: Pick<Database, 'ready' | 'pendingMigrations' | 'replicaStatuses'>) {
    this.schema = new SchemaCheck(database);
  }

  /** Resolves when ready, with each read replica's state (undefined without replicas); throws ServiceUnavailable saying why not. */
  async ready(): Promise<ReplicaStatus[] | undefined> {
    let pending: string[];
    try {
      await this.database.ready();
      pending = await this.schema.pending();
    } catch (error) {
      throw new ServiceUnavailable('Database unavailable', error);
    }
    if (pending.length) throw new ServiceUnavailable(describePendingMigrations(pending.length));
    return this.database.replicaStatuses();
  }
}
