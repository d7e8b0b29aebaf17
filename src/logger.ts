import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON lines for machines; colourised lines for people (LOG_FORMAT=pretty, or a terminal when unset). */
export function createLogger(level: string, format?: 'json' | 'pretty'): Logger {
  const pretty = format === 'pretty' || (format === undefined && process.stdout.isTTY);
  if (pretty && isInstalled('pino-pretty')) {
    return pino({ level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  // Asynchronous writes: a synchronous write per request line cost ~8% of a small read. Lines
  // written while one write is in flight go out together; pino flushes what is left on exit.
  return pino({ level }, pino.destination({ dest: 1, sync: false }));
}

function isInstalled(moduleName: string): boolean {
  try {
    require.resolve(moduleName);
    return true;
  } catch {
    return false;
  }
}
