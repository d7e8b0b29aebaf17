/**
 * The HTTP layer's own errors (405, 413, 415, a path that does not decode, an unknown route); the
 * error handler turns each into the contract's JSON body. Services throw domain errors (src/errors.ts).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export class NotFoundError extends HttpError {
  constructor(detail = 'Not Found') {
    super(404, detail);
  }
}

export class ServiceUnavailableError extends HttpError {
  constructor(detail = 'Database unavailable') {
    super(503, detail, { 'Retry-After': '1' });
  }
}
