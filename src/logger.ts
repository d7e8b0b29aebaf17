import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON lines for machines; colourised lines for people (LOG_FORMAT=pretty, or a terminal when unset). */
export function createLogger(level: string, format?: 'json' | 'pretty'): Logger {
  const pretty = format === 'pretty' || (format === undefined && process.stdout.isTTY);
  if (pretty && isInstalled('pino-pretty')) {
    return pino({ level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino({ level });
}

function isInstalled(moduleName: string): boolean {
  try {
    require.resolve(moduleName);
    return true;
  } catch {
    return false;
  }
}
