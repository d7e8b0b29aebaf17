/**
 * The HTTP layer's own errors (405, 413, 415, unreadable bodies, an unknown route); the
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
