import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON lines for machines; colourised lines for people (LOG_FORMAT=pretty, or a terminal when unset). */
export function createLogger(level: string, format?: 'json' | 'pretty'): Logger {
  if (isPretty(format)) {
    return pino({ level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  // Asynchronous writes: a synchronous write per line cost ~8% of a small read. Lines written while
  // one write is in flight go out together; pino writes what is left when the process exits.
  return pino({ level }, pino.destination({ dest: 1, sync: false }));
}

/**
 * The logger of the per-request lines. In JSON, the same standard output as `logger` but written in
 * batches of about REQUEST_LOG_BUFFER_BYTES (some twenty lines), and at least every
 * REQUEST_LOG_FLUSH_MS: a write per line, even an asynchronous one, cost every request a system call
 * and thread wake-ups on libuv's pool, on the cores the event loop and PostgreSQL need (strace over
 * 5,000 gets by id: 0.72 writes and 1.75 futex calls a request, the baseline 0.03 and 0.42; batched,
 * 0.19 and 0.87). Other lines (start, stop, warnings, errors) stay on
 * `logger`, written at once; every line has its own `time`, and a request line may come out up to
 * the flush interval after a later line of the other logger. pino writes what is left when the
 * process exits. Pretty output, for people at a terminal, is `logger` itself.
 */
export function createRequestLogger(logger: Logger, format?: 'json' | 'pretty'): Logger {
  if (isPretty(format)) return logger;
  return pino({ level: logger.level }, pino.destination({ dest: 1, sync: false, minLength: REQUEST_LOG_BUFFER_BYTES, periodicFlush: REQUEST_LOG_FLUSH_MS }));
}

const REQUEST_LOG_BUFFER_BYTES = 4096;
const REQUEST_LOG_FLUSH_MS = 50;

function isPretty(format: 'json' | 'pretty' | undefined): boolean {
  return (format === 'pretty' || (format === undefined && process.stdout.isTTY)) && isInstalled('pino-pretty');
}

function isInstalled(moduleName: string): boolean {
  try {
    require.resolve(moduleName);
    return true;
  } catch {
    return false;
  }
}
