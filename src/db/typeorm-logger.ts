import type { Logger as TypeOrmLogger } from 'typeorm';
import type { Logger } from '../logger';

/** Told of each statement slower than SLOW_QUERY_MS, in the async context of the code that ran it. */
export type SlowQueryListener = (durationMs: number) => void;

/** Sends TypeORM's messages to our logger instead of the console; callers report failures themselves. */
export class PinoTypeOrmLogger implements TypeOrmLogger {
  private readonly slowQueryListeners: SlowQueryListener[] = [];

  constructor(private readonly logger: Logger) {}

  onSlowQuery(listener: SlowQueryListener): void {
    this.slowQueryListeners.push(listener);
  }

  logQuery(): void {}

  logQueryError(): void {}

  logQuerySlow(durationMs: number, query: string): void {
    this.logger.warn({ durationMs, query }, `slow query: ${durationMs} ms`);
    for (const listener of this.slowQueryListeners) listener(durationMs);
  }

  logSchemaBuild(message: string): void {
    this.logger.debug(message);
  }

  logMigration(message: string): void {
    this.logger.debug(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.debug(String(message));
  }
}
