import { AsyncLocalStorage } from 'node:async_hooks';
import type { Request } from 'express';
import { Counter, type Registry } from 'prom-client';
import { routeLabel } from './metrics';

/**
 * The request whose code is running. The request lifecycle enters it once per request; only a slow
 * statement reads it, so a fast statement costs nothing more than before.
 */
const currentRequest = new AsyncLocalStorage<Request>();

/** Runs the rest of a request's handling (`next`) inside its context: the route a slow statement is counted under. */
export function withinRequest(req: Request, next: () => void): void {
  currentRequest.run(req, next);
}

/** Statements slower than SLOW_QUERY_MS (the ones the executor logs), counted by the route of the request that ran them. */
export class SlowQueries {
  private readonly counter: Counter<'route'>;

  constructor(registry: Registry) {
    this.counter = new Counter({
      name: 'db_slow_queries_total',
      help: 'Database statements slower than SLOW_QUERY_MS, by the route template of the request that ran them ("background" outside requests)',
      labelNames: ['route'],
      registers: [registry],
    });
  }

  /** Called in the async context of the code that ran the statement. */
  count(): void {
    const req = currentRequest.getStore();
    this.counter.inc({ route: req?.res ? routeLabel(req, req.res) : 'background' });
  }
}
