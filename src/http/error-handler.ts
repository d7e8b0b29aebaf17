import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isDatabaseUnavailable, isQueryTimeout } from '../db/connection-errors';
import { isUniqueViolation } from '../db/unique-violations';
import { DomainError, type DomainErrorKind } from '../errors';
import type { Logger } from '../logger';
import { HttpError, NotFoundError } from './errors';
import { writeResponse, type ReplyHeaders } from './reply';
import { RequestValidationError } from './validation';

export const unknownRoute: RequestHandler = () => {
  throw new NotFoundError();
};

/** An error as the client is told it: status, the `detail` of the contract's body, and headers. */
interface ErrorAnswer {
  status: number;
  detail: unknown;
  headers?: ReplyHeaders;
}

/**
 * The single error path: every error thrown or rejected anywhere, and the request timeout, ends
 * here as the contract's JSON body.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    // A response already went out (the request timed out, say): nothing more can be said to the client.
    if (res.headersSent) {
      logger.warn({ err: error, requestId: res.locals.requestId }, 'error after the response was sent');
      return;
    }
    const { status, detail, headers } = answerFor(error);
    if (status === 500) logger.error({ err: error, requestId: res.locals.requestId, method: req.method, path: req.path }, 'request failed');
    else if (status >= 500) logger.warn({ requestId: res.locals.requestId, method: req.method, path: req.path, reason: detail }, 'request not served');
    writeResponse(res, status, { detail }, headers);
  };
}

const STATUS_OF: Record<DomainErrorKind, number> = {
  bad_request: 400,
  unauthenticated: 401,
  not_found: 404,
  gone: 410,
  conflict: 409,
  precondition_failed: 412,
  rate_limited: 429,
  unavailable: 503,
};

function domainAnswer(error: DomainError): ErrorAnswer {
  const headers: ReplyHeaders | undefined =
    error.kind === 'unauthenticated'
      ? { 'WWW-Authenticate': 'Bearer' }
      : error.retryAfterSeconds !== undefined
        ? { 'Retry-After': String(error.retryAfterSeconds) }
        : undefined;
  return { status: STATUS_OF[error.kind], detail: error.message, headers };
}

const unavailable = (detail: string): ErrorAnswer => ({ status: 503, detail, headers: { 'Retry-After': '1' } });

/** body-parser's error types (see its README). */
const BODY_PARSER_ERRORS: Record<string, (error: { limit?: number }) => HttpError | RequestValidationError> = {
  'entity.parse.failed': () => new RequestValidationError([{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }]),
  'entity.too.large': (error) => new HttpError(413, `Request body too large (limit ${Math.round((error.limit ?? 0) / 1024)} KiB)`),
  'encoding.unsupported': () => new HttpError(415, 'Unsupported Media Type: unsupported content encoding'),
  'charset.unsupported': () => new HttpError(415, 'Unsupported Media Type: use charset utf-8'),
  'request.aborted': () => new HttpError(400, 'Request aborted'),
  'request.size.invalid': () => new HttpError(400, 'Request size did not match Content-Length'),
  'parameters.too.many': () => new HttpError(413, 'Too many parameters'),
};

function answerFor(error: unknown): ErrorAnswer {
  const fromBodyParser = BODY_PARSER_ERRORS[(error as { type?: string })?.type ?? ''];
  const known = fromBodyParser ? fromBodyParser(error as { limit?: number }) : error;
  if (known instanceof RequestValidationError) return { status: 422, detail: known.issues };
  if (known instanceof HttpError) return { status: known.status, detail: known.detail, headers: known.headers };
  if (known instanceof DomainError) return domainAnswer(known);
  const clientError = (error as { status?: unknown; expose?: boolean; message?: string }) ?? {};
  // Express's own 4xx errors (http-errors), e.g. a path whose %-escapes do not decode.
  if (typeof clientError.status === 'number' && clientError.status >= 400 && clientError.status < 500 && clientError.expose !== false) {
    return { status: clientError.status, detail: clientError.message || 'Bad Request' };
  }
  // Repositories turn the violations they expect into their own errors; any other is still a conflict.
  if (isUniqueViolation(error)) return { status: 409, detail: 'The resource already exists' };
  if (isDatabaseUnavailable(error)) return unavailable('Database unavailable');
  if (isQueryTimeout(error)) return unavailable('Database query timed out');
  if ((error as Error)?.name === 'AbortError') return unavailable('Request timed out');
  return { status: 500, detail: 'Internal Server Error' };
}
