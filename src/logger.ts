import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON lines for machines; colourised lines when a person is watching a terminal and pino-pretty is installed. */
export function createLogger(level: string, destination: pino.DestinationStream | undefined = undefined): Logger {
  if (destination) return pino({ level }, destination);
  if (process.stdout.isTTY && isInstalled('pino-pretty')) {
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
