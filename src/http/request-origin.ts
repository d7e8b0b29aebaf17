import type { Request } from 'express';

/** Where a request came from: the client address (Express's `req.ip`, which follows TRUST_PROXY) and its User-Agent. */
export interface RequestOrigin {
  ip?: string;
  userAgent?: string;
}

export function requestOrigin(req: Request): RequestOrigin {
  return { ip: req.ip, userAgent: req.get('user-agent') };
}
