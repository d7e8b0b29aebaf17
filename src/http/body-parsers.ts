import express, { type RequestHandler } from 'express';

/**
 * Whether a request carries a body, as body-parser decides it (type-is's hasBody): a
 * Transfer-Encoding, or a Content-Length that is a number (`0` included).
 */
export function hasBody(headers: { 'transfer-encoding'?: string; 'content-length'?: string }): boolean {
  return headers['transfer-encoding'] !== undefined || !Number.isNaN(Number(headers['content-length']));
}

/**
 * Express's JSON and form parsers, as one middleware that is skipped for a request without a body.
 * Each parser checks for a body first and does nothing without one, but as two middlewares of
 * Express's router they still cost every GET and DELETE two turns of its dispatch loop.
 */
export function bodyParsers(limit: string): RequestHandler {
  const json = express.json({ limit });
  const form = express.urlencoded({ extended: false, limit });
  return (req, res, next) => {
    if (!hasBody(req.headers)) {
      next();
      return;
    }
    json(req, res, (error?: unknown) => (error ? next(error) : form(req, res, next)));
  };
}
