import type { RequestHandler } from 'express';

/**
 * Middlewares run one after the other as one middleware: each calls the next directly, and an error
 * skips the rest to Express's error path. Every middleware of the app costs each request a turn of
 * Express's router (a path match, a match object, the layer's dispatch); the ones that run for every
 * request take one turn together.
 */
export function sequence(...handlers: RequestHandler[]): RequestHandler {
  return handlers.reduceRight<RequestHandler>(
    (rest, handler) => (req, res, next) => handler(req, res, (error?: unknown) => (error === undefined || error === null ? rest(req, res, next) : next(error))),
    (_req, _res, next) => next(),
  );
}
