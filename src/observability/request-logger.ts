import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../logger';
import { routeLabel } from './metrics';

const USABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * One JSON line per request: its id (the caller's X-Request-Id, or a new one, echoed back), method,
 * path, route template, status, duration and the user when known. Headers and bodies are never
 * logged, so tokens and passwords cannot leak through here.
 */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.get('X-Request-Id');
    const requestId = incoming && USABLE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    res.locals.requestId = requestId;
    res.set('X-Request-Id', requestId);
    let logged = false;
    const log = () => {
      if (logged) return;
      logged = true;
      const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
      const status = res.writableFinished ? res.statusCode : 499;
      logger.info(
        { requestId, method: req.method, path: req.path, route: routeLabel(req, res), status, durationMs, userId: res.locals.userId },
        `${req.method} ${req.path} ${status} ${durationMs} ms`,
      );
    };
    res.on('finish', log);
    res.on('close', log);
    next();
  };
}
