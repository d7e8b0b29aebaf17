/** Errors services throw; the error handler turns each into the contract's JSON body. */
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

export class UnauthorizedError extends HttpError {
  constructor() {
    super(401, 'Not authenticated', { 'WWW-Authenticate': 'Bearer' });
  }
}
