import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isDatabaseUnavailable, isQueryTimeout } from '../db/connection-errors';
import { uniqueViolationDetail } from '../db/unique-violations';
import type { Logger } from '../logger';
import { HttpError, NotFoundError, ServiceUnavailableError } from './errors';
import { RequestValidationError } from './validation';

export const unknownRoute: RequestHandler = () => {
  throw new NotFoundError();
};

/** The single error path: every error thrown or rejected anywhere ends here as the contract's JSON body. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    // A response already went out (the request timed out, say): nothing more can be said to the client.
    if (res.headersSent) {
      logger.warn({ err: error, requestId: res.locals.requestId }, 'error after the response was sent');
      return;
    }
    const known = toKnownError(error);
    if (known instanceof RequestValidationError) {
      res.status(422).json({ detail: known.issues });
      return;
    }
    if (known.status === 500) logger.error({ err: error, requestId: res.locals.requestId, method: req.method, path: req.path }, 'request failed');
    else if (known.status >= 500) logger.warn({ requestId: res.locals.requestId, method: req.method, path: req.path, reason: known.detail }, 'request not served');
    res.status(known.status).set(known.headers).json({ detail: known.detail });
  };
}

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

function toKnownError(error: unknown): HttpError | RequestValidationError {
  if (error instanceof HttpError || error instanceof RequestValidationError) return error;
  const fromBodyParser = BODY_PARSER_ERRORS[(error as { type?: string })?.type ?? ''];
  if (fromBodyParser) return fromBodyParser(error as { limit?: number });
  const clientError = (error as { status?: unknown; expose?: boolean; message?: string }) ?? {};
  // Express's own 4xx errors (http-errors), e.g. a path whose %-escapes do not decode.
  if (typeof clientError.status === 'number' && clientError.status >= 400 && clientError.status < 500 && clientError.expose !== false) {
    return new HttpError(clientError.status, clientError.message || 'Bad Request');
  }
  const conflict = uniqueViolationDetail(error);
  if (conflict) return new HttpError(409, conflict);
  if (isDatabaseUnavailable(error)) return new ServiceUnavailableError();
  if (isQueryTimeout(error)) return new ServiceUnavailableError('Database query timed out');
  if ((error as Error)?.name === 'AbortError') return new ServiceUnavailableError('Request timed out');
  return new HttpError(500, 'Internal Server Error');
}
