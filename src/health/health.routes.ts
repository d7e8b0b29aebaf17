import { defineRoute, type AnyRoute } from '../http/route';
import { HealthStatus, ReadinessStatus, toReadinessStatus } from './health.dto';
import type { HealthService } from './health.service';

export function healthRoutes(health: HealthService): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/health',
      tag: 'operations',
      summary: 'Liveness: answers while the process runs, without touching the database',
      auth: false,
      database: false,
      success: { status: 200, description: 'Alive', schema: HealthStatus },
      handler: () => ({ status: 'ok' }),
    }),
    defineRoute({
      method: 'get',
      path: '/ready',
      tag: 'operations',
      summary:
        'Readiness: answers 200 only while the database can be reached and has every migration of this build; with read replicas, also says how each is (a replica down or lagging is skipped, and the service stays ready)',
      auth: false,
      success: { status: 200, description: 'Ready', schema: ReadinessStatus },
      errors: [503],
      handler: async () => toReadinessStatus(await health.ready()),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/utils/health-check/',
      tag: 'operations',
      summary: "The Python design's health probe",
      auth: false,
      database: false,
      success: { status: 200, description: 'Always true', schema: 'boolean' },
      handler: () => true,
    }),
  ];
}
