import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isDatabaseUnavailable } from '../db/connection-errors';
import type { Logger } from '../logger';
import { HttpError, NotFoundError, ServiceUnavailableError } from './errors';

export const unknownRoute: RequestHandler = () => {
  throw new NotFoundError();
};

/** The single error path: every error thrown or rejected anywhere ends here as the contract's JSON body. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error);
    const httpError = toHttpError(error);
    if (httpError.status >= 500) logger.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    res.status(httpError.status).set(httpError.headers).json({ detail: httpError.detail });
  };
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (isDatabaseUnavailable(error)) return new ServiceUnavailableError();
  return new HttpError(500, 'Internal Server Error');
}
