/**
 * What can go wrong, in the service's own terms. Services and repositories throw these; the one
 * HTTP error handler (src/http/error-handler.ts) maps each kind to a status, headers and the
 * contract's `{"detail": message}` body. Nothing here knows about HTTP.
 */
export type DomainErrorKind = 'bad_request' | 'unauthenticated' | 'not_found' | 'gone' | 'conflict' | 'precondition_failed' | 'rate_limited' | 'unavailable';

export interface DomainErrorOptions {
  /** For `rate_limited` and `unavailable`: when trying again makes sense. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class DomainError extends Error {
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The request makes sense but cannot be done as asked (a wrong password, say). */
export class BadRequest extends DomainError {
  constructor(message: string) {
    super('bad_request', message);
  }
}

/** No valid credentials: a missing, invalid, expired or revoked token, or a session or user that is gone. */
export class NotAuthenticated extends DomainError {
  constructor() {
    super('unauthenticated', 'Not authenticated');
  }
}

export class NotFound extends DomainError {
  constructor(message: string) {
    super('not_found', message);
  }
}

/** What the request names existed once and is no longer kept (an expired sync token, say). */
export class Gone extends DomainError {
  constructor(message: string) {
    super('gone', message);
  }
}

/** A unique value is taken. */
export class Conflict extends DomainError {
  constructor(message: string, cause?: unknown) {
    super('conflict', message, { cause });
  }
}

/** The caller's expected version (If-Match) is not the current one. */
export class PreconditionFailed extends DomainError {
  constructor(message: string) {
    super('precondition_failed', message);
  }
}

export class TooManyRequests extends DomainError {
  constructor(message: string, retryAfterSeconds: number) {
    super('rate_limited', message, { retryAfterSeconds });
  }
}

/** The service cannot answer now (the database, a deadline); trying again in a second may work. */
export class ServiceUnavailable extends DomainError {
  constructor(message = 'Database unavailable', cause?: unknown) {
    super('unavailable', message, { retryAfterSeconds: 1, cause });
  }
}
