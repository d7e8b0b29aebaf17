const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** PostgreSQL SQLSTATE classes that mean "the server is not there or not accepting us right now". */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006']);

/** True when an error says the database cannot be reached, as opposed to a query that failed. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error as { code?: unknown; message?: unknown; cause?: unknown; driverError?: unknown } | undefined; current;) {
    const code = typeof current.code === 'string' ? current.code : undefined;
    if (code && (CONNECTION_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code))) return true;
    const message = typeof current.message === 'string' ? current.message : '';
    if (/timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error/i.test(message))
      return true;
    current = (current.driverError ?? current.cause) as typeof current;
  }
  return false;
}

/** statement_timeout (57014) or lock_timeout (55P03): the database gave up on a slow statement. */
export function isQueryTimeout(error: unknown): boolean {
  const code = (error as { driverError?: { code?: string }; code?: string })?.driverError?.code ?? (error as { code?: string })?.code;
  return code === '57014' || code === '55P03';
}

/** One line a person can act on, never a stack trace. */
export function describeDatabaseError(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  if (isDatabaseUnavailable(error)) return `cannot reach the database (${message})`;
  const code = (error as { code?: string })?.code;
  if (code === '28P01' || code === '28000') return `the database refused the credentials (${message})`;
  if (code === '3D000') return `the database does not exist (${message})`;
  return message;
}
