import type { Response } from 'express';
import helmet from 'helmet';

/** helmet's headers (its defaults), worked out once: they never vary between requests. */
function helmetHeaders(): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  const recorder = {
    setHeader: (name: string, value: string) => headers.push([name, value]),
    removeHeader: () => {},
  } as unknown as Response;
  helmet()({} as never, recorder, () => {});
  return headers;
}

/**
 * The security headers, as one list of names and values that the response writer hands to
 * `writeHead` with the rest of a response's headers. Set one by one with `setHeader`, as helmet's
 * chain of middlewares does, they cost each request twelve validated, lower-cased entries in the
 * response's header map before Node wrote them out (about a twentieth of a small read's CPU).
 */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = helmetHeaders();

/** Lower-cased names of SECURITY_HEADERS: a response that sets one of them itself replaces helmet's. */
export const SECURITY_HEADER_NAMES: ReadonlySet<string> = new Set(SECURITY_HEADERS.map(([name]) => name.toLowerCase()));
