import type { Logger } from '../logger';
import { summarise } from './retention-report';
import type { RetentionService } from './retention.service';

/** The first run comes within this long of the start (or of one interval, if shorter). */
const FIRST_RUN_WITHIN_MS = 60_000;

/**
 * Runs the retention job in this process every RETENTION_INTERVAL_MS (0: never), the first time
 * shortly after start. Every process of the service has one (workers, replicas); the job's claim
 * lets one run at a time, and a process whose timer fires within half an interval of another's
 * finished run skips it, so a fleet runs the job about once an interval. Delays are jittered so
 * processes started together do not all try at once.
 */
export class RetentionScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  constructor(
    private readonly retention: RetentionService,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly random: () => number = Math.random,
  ) {}

  start(): void {
    if (this.intervalMs === 0) return;
    this.schedule(Math.min(this.intervalMs, FIRST_RUN_WITHIN_MS) * (0.1 + 0.9 * this.random()));
  }

  /** Stops the timer and waits for a run in progress, which stops after its current batch. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        if (!this.stopping.signal.aborted) this.schedule(this.intervalMs * (0.9 + 0.2 * this.random()));
      });
    }, delayMs);
    // The HTTP server keeps the process alive, not this timer.
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    try {
      const report = await this.retention.run({ notWithinMs: this.intervalMs / 2, signal: this.stopping.signal });
      if (report.ran) this.logger.info({ retention: report.deleted, durationMs: report.durationMs }, `Retention: ${summarise(report)}`);
      else this.logger.debug({ heldBy: report.heldBy }, 'Retention: skipped, another process runs it or ran it moments ago');
    } catch (error) {
      this.logger.error({ err: error }, 'Retention run failed; the next run tries again');
    }
  }
}
