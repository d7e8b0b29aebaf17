import crypto from 'node:crypto';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ServiceUnavailable } from '../errors';
import { Abandonment } from '../http/abandonment';
import type { Logger } from '../logger';
import { routeLabel, type Metrics } from './metrics';
import { withinRequest } from './slow-queries';

const USABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * What happens around every request, in one middleware with one listener:
 * - its id: the caller's X-Request-Id, or a new one, echoed back (`res.locals.requestId`);
 * - a deadline: no response after `timeoutMs` → 503, answered by `answerError` (the app's error
 *   handler); `res.locals.abandonment` (an Abandonment) then fires its signal, as it does when the
 *   client hangs up, so handlers can stop before writing anything; `res.locals.clearDeadline()` lifts it;
 * - at the end, one JSON log line (id, method, path, route template, status, duration, user) and
 *   the metrics. Headers and bodies are never logged, so tokens and passwords cannot leak here;
 * - the rest of the handling runs inside the request's context, so a slow statement is counted
 *   under its route.
 */
export function requestLifecycle(logger: Logger, metrics: Metrics, timeoutMs: number, answerError: ErrorRequestHandler): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && USABLE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    // Echoed by the response writer, which writes all of a response's headers at once.
    res.locals.requestId = requestId;
    const abandonment = new Abandonment();
    res.locals.abandonment = abandonment;
    const deadline = setTimeout(() => {
      abandonment.abandon();
      // A response already on its way (a slow download) is not late: it only has to finish.
      if (!res.headersSent) answerError(new ServiceUnavailable('Request timed out'), req, res, () => {});
    }, timeoutMs);
    // A streaming route's answer (Server-Sent Events) lasts as long as it is open: it clears the deadline when it starts.
    res.locals.clearDeadline = () => clearTimeout(deadline);
    // 'close' follows 'finish' for a completed response, and also comes alone when the client hangs up.
    res.once('close', () => {
      clearTimeout(deadline);
      if (!res.writableFinished) abandonment.abandon();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = res.writableFinished ? res.statusCode : 499;
      const route = routeLabel(req, res);
      metrics.observe(req.method, route, status, seconds);
      const durationMs = Math.round(seconds * 1e5) / 100;
      logger.info(
        { requestId, method: req.method, path: req.path, route, status, durationMs, userId: res.locals.userId },
        `${req.method} ${req.path} ${status} ${durationMs} ms`,
      );
    });
    withinRequest(req, next);
  };
}
