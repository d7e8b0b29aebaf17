import type { Logger as TypeOrmLogger } from 'typeorm';
import type { Logger } from '../logger';

/** Sends TypeORM's messages to our logger instead of the console; callers report failures themselves. */
export class PinoTypeOrmLogger implements TypeOrmLogger {
  constructor(private readonly logger: Logger) {}

  logQuery(): void {}

  logQueryError(): void {}

  logQuerySlow(durationMs: number, query: string): void {
    this.logger.warn({ durationMs, query }, `slow query: ${durationMs} ms`);
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
