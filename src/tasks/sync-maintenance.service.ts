import type { Logger } from '../logger';
import type { TasksRepository } from './tasks.repository';

export interface MaintenanceOptions {
  retentionDays: number;
  /** How often it runs. */
  intervalMs: number;
  /** Tombstones deleted per statement, so no statement holds its locks for long. */
  batchSize: number;
  /** Statements per run at most; what is left waits for the next run. */
  maxBatches: number;
}

export const DEFAULT_MAINTENANCE = { intervalMs: 60 * 60 * 1000, batchSize: 1000, maxBatches: 100 };

/**
 * Periodic upkeep of sync, in every process (the batches skip rows another process is deleting):
 * tombstones older than SYNC_TOMBSTONE_RETENTION_DAYS go, batch by batch (a trigger records each
 * purge, which expires the tokens from before it that needed them), records of purges older than
 * that go too, and stream slots of processes that died are freed, so that writes for their users
 * stop sending notifications nobody hears.
 */
export class SyncMaintenance {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tasks: TasksRepository,
    private readonly options: MaintenanceOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(
      () => void this.run().catch((error) => this.logger.warn({ err: error }, 'sync maintenance failed')),
      this.options.intervalMs,
    ).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One run; returns how many tombstones it purged. */
  async run(): Promise<number> {
    let purged = 0;
    for (let batch = 0; batch < this.options.maxBatches; batch += 1) {
      const count = await this.tasks.purgeTombstones(this.options.retentionDays, this.options.batchSize);
      purged += count;
      if (count < this.options.batchSize) break;
    }
    await this.tasks.forgetPurges(this.options.retentionDays);
    await this.tasks.releaseAbandonedStreamSlots();
    if (purged > 0) this.logger.info(`sync maintenance: purged ${purged} tombstones older than ${this.options.retentionDays} days`);
    return purged;
  }
}
