import type { Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolStats } from '../db/database';
import { Reply } from '../http/reply';
import { defineRoute, type AnyRoute } from '../http/route';

/** The route template Express matched (`/api/v1/tasks/:id`), never the raw path, so ids cannot explode the label set. */
export function routeLabel(req: Request, res: Response): string {
  if (req.route?.path) return String(req.route.path);
  return res.statusCode >= 400 ? 'unmatched' : 'static';
}

/** Prometheus metrics of one app: HTTP traffic by route template, the database pool, and the process. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route' | 'status'>;
  /** By `method status route`: route templates and statuses are few, so this stays small. */
  private readonly series = new Map<string, { requests: { inc(): void }; duration: { observe(value: number): void } }>();

  /** `poolStats` reads the database pool's connections (undefined before it is open). */
  constructor(poolStats: () => PoolStats | undefined, poolSize: number) {
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request to response, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    const gauge = (name: string, help: string, read: (stats: PoolStats) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const current = poolStats();
          this.set(current ? read(current) : 0);
        },
      });
    gauge('db_pool_connections', 'Connections open in the database pool', (stats) => stats.total);
    gauge('db_pool_idle_connections', 'Open connections not in use', (stats) => stats.idle);
    gauge('db_pool_waiting_requests', 'Queries waiting for a connection', (stats) => stats.waiting);
    new Gauge({ name: 'db_pool_max_connections', help: 'Configured pool size (DB_POOL_SIZE)', registers: [this.registry] }).set(poolSize);
  }

  /**
   * Counts a request. Each (method, route, status) has its counter and histogram looked up once:
   * prom-client otherwise validates and hashes the label object on every call.
   */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let series = this.series.get(key);
    if (!series) {
      const labels = { method, route, status: String(status) };
      series = { requests: this.requests.labels(labels), duration: this.duration.labels(labels) };
      this.series.set(key, series);
    }
    series.requests.inc();
    series.duration.observe(seconds);
  }

  routes(): AnyRoute[] {
    return [
      defineRoute({
        method: 'get',
        path: '/metrics',
        tag: 'operations',
        summary: 'Prometheus metrics: requests and latency by route and status, database pool usage, process',
        auth: false,
        database: false,
        success: { status: 200, description: 'Prometheus text format', contentType: 'text/plain' },
        handler: async () => new Reply({ body: await this.registry.metrics(), contentType: this.registry.contentType }),
      }),
    ];
  }
}
