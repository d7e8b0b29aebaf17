import cors from 'cors';
import express, { type Express } from 'express';
import { Gauge } from 'prom-client';
import { auditRoutes } from './audit/audit.routes';
import { AuditService } from './audit/audit.service';
import { createSecurityEventsRepository } from './audit/security-events.repository';
import { loginRoutes, logoutRoute } from './auth/auth.routes';
import { AuthService } from './auth/auth.service';
import { createLoginAttemptsRepository } from './auth/login-attempts.repository';
import { LoginRateLimiter } from './auth/login-rate-limiter';
import { PasswordHasher } from './auth/passwords';
import { createSessionsRepository } from './auth/sessions.repository';
import { TokenService } from './auth/tokens';
import type { Config } from './config';
import type { AppDataSource } from './db/data-source';
import { Database } from './db/database';
import { healthRoutes } from './health/health.routes';
import { HealthService } from './health/health.service';
import { DatabaseStats } from './observability/database-stats';
import { DatabaseStatsRepository } from './observability/database-stats.repository';
import { Metrics } from './observability/metrics';
import { registerReplicaMetrics } from './observability/replica-metrics';
import { requestLifecycle } from './observability/request-lifecycle';
import { SlowQueries } from './observability/slow-queries';
import { docsAssets, docsRoutes } from './openapi/docs.routes';
import { buildOpenApiDocument } from './openapi/openapi';
import packageJson from '../package.json';
import { bodyParsers } from './http/body-parsers';
import { errorHandler, unknownRoute } from './http/error-handler';
import { writerHeaders } from './http/reply';
import { sequence } from './http/sequence';
import { mountRoutes, type AnyRoute } from './http/route';
import type { Logger } from './logger';
import { createMaintenanceRunsRepository } from './retention/maintenance-runs.repository';
import { RetentionService } from './retention/retention.service';
import { DEFAULT_MAINTENANCE, SyncMaintenance } from './tasks/sync-maintenance.service';
import { SyncTokenCodec } from './tasks/sync-token';
import { TaskStreamsService } from './tasks/task-streams.service';
import { TaskSyncService } from './tasks/task-sync.service';
import { createTasksRepository } from './tasks/tasks.repository';
import { taskRoutes } from './tasks/tasks.routes';
import { TasksService } from './tasks/tasks.service';
import { createUsersRepository } from './users/users.repository';
import { testTokenRoute, userRoutes } from './users/users.routes';
import { UsersService } from './users/users.service';

export interface AppDependencies {
  config: Config;
  dataSource: AppDataSource;
  logger: Logger;
  /** Where the per-request lines go (the server's is buffered, see createRequestLogger); `logger` unless given. */
  requestLogger?: Logger;
}

/**
 * What runs besides requests: the change streams (and their listening connection) and the sync
 * upkeep. `start()` when serving; `stop()` before closing the HTTP server, so that open streams
 * end at once rather than hold the shutdown up.
 */
export interface BackgroundWork {
  start(): void;
  stop(): Promise<void>;
}

/** The Express app, and its background work. */
export type App = Express & { background: BackgroundWork };

/** Change streams send what they catch up on this many changes at a time. */
const STREAM_PAGE_SIZE = 500;

/** The contract's limit; larger bodies are refused with 413 before they are read to the end. */
const BODY_LIMIT = '100kb';

/**
 * The composition root: the executor, then the repositories, the services and the routes. Every
 * route the service serves, in the order Express matches them (and the OpenAPI document lists
 * them), and what they share.
 */
export function routeTable({ config, dataSource, logger }: AppDependencies): {
  routes: AnyRoute[];
  auth: AuthService;
  metrics: Metrics;
  databaseStats: DatabaseStats;
  background: BackgroundWork;
} {
  const { readUrls, readMaxLagMs, preparedStatements, listenUrl } = config.database;
  const database = new Database(dataSource, { preparedStatements, replicas: { readUrls, readMaxLagMs, logger }, listenUrl });
  const sessionsRepository = createSessionsRepository(database);
  const usersRepository = createUsersRepository(database);
  const tasksRepository = createTasksRepository(database);
  const eventsRepository = createSecurityEventsRepository(database);

  const passwords = new PasswordHasher(config.auth.bcryptRounds, config.auth.bcryptConcurrency);
  const tokens = new TokenService(config.auth.jwtSecret, config.auth.accessTokenTtlSeconds);
  const rateLimiter = new LoginRateLimiter(
    createLoginAttemptsRepository(database),
    { failuresPerAccount: config.auth.loginRateLimit, attemptsPerAddress: config.auth.loginRateLimitPerIp },
    logger,
  );
  const auth = new AuthService(sessionsRepository, usersRepository, eventsRepository, database, passwords, tokens, rateLimiter, config.auth, logger);
  const users = new UsersService(usersRepository, tasksRepository, sessionsRepository, eventsRepository, database, passwords);
  // With read replicas, each task write records where it ended, for the caller's reads (read-your-writes).
  const tasks = new TasksService(tasksRepository, config.retention.trashDays, database.hasReplicas ? sessionsRepository : undefined);
  const sync = new TaskSyncService(tasksRepository, new SyncTokenCodec(config.auth.jwtSecret), config.sync.tombstoneRetentionDays);
  const sessionIsLive = async (owner: { userId: string; sessionId: string }) =>
    (await sessionsRepository.findOwner(owner.sessionId, owner.userId)) !== undefined;
  const streams = new TaskStreamsService(
    tasksRepository,
    sync,
    sessionIsLive,
    { maxPerUser: config.sync.streamMaxPerUser, heartbeatMs: config.sync.streamHeartbeatMs, pageSize: STREAM_PAGE_SIZE },
    logger,
  );
  const maintenance = new SyncMaintenance(tasksRepository, { ...DEFAULT_MAINTENANCE, retentionDays: config.sync.tombstoneRetentionDays }, logger);
  const metrics = new Metrics(() => database.poolStats(), config.database.poolSize);
  if (database.hasReplicas) registerReplicaMetrics(metrics.registry, database, readMaxLagMs);
  const databaseStats = new DatabaseStats(new DatabaseStatsRepository(database), metrics.registry, logger, config.databaseStatsIntervalMs);
  const slowQueries = new SlowQueries(metrics.registry);
  database.onSlowQuery(() => slowQueries.count());
  new Gauge({
    name: 'task_streams_open',
    help: 'Change streams (GET /api/v1/tasks/stream) open in this process',
    registers: [metrics.registry],
    collect() {
      this.set(streams.openCount);
    },
  });
  let document: object | undefined;
  const routes: AnyRoute[] = [
    ...healthRoutes(new HealthService(database)),
    ...metrics.routes(),
    ...docsRoutes(() => (document ??= buildOpenApiDocument(routes, { title: 'Todo service', version: packageJson.version, license: packageJson.license }))),
    ...loginRoutes(auth),
    // It answers the current user (UserPublic), so the users' routes define it; its place is among the login routes.
    testTokenRoute(users),
    logoutRoute(auth),
    ...userRoutes(users),
    ...auditRoutes(new AuditService(eventsRepository)),
    ...taskRoutes(tasks, sync, streams),
  ];
  const background: BackgroundWork = {
    start: () => maintenance.start(),
    stop: async () => {
      maintenance.stop();
      await streams.stop();
    },
  };
  return { routes, auth, metrics, databaseStats, background };
}

/** The Express app, and the work that runs beside it on a timer (the server starts and stops it). */
export interface ComposedApp {
  app: App;
  databaseStats: DatabaseStats;
}

/** The retention job on its own repositories: the service's timer (server.ts) and `npm run purge` run the same code. */
export function createRetentionService({ config, dataSource }: Pick<AppDependencies, 'config' | 'dataSource'>, now?: () => Date): RetentionService {
  const database = new Database(dataSource, { preparedStatements: config.database.preparedStatements });
  const repositories = {
    tasks: createTasksRepository(database),
    sessions: createSessionsRepository(database),
    users: createUsersRepository(database),
    events: createSecurityEventsRepository(database),
  };
  return new RetentionService(config.retention, repositories, createMaintenanceRunsRepository(database), database, now);
}

/** Builds the Express app without listening, so tests drive it with supertest. */
export function createApp(dependencies: AppDependencies): App {
  return composeApp(dependencies).app;
}

/** The app and its timer-driven work, which nothing starts here: tests start none, the server starts it after it listens. */
export function composeApp(dependencies: AppDependencies): ComposedApp {
  const { config, logger } = dependencies;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', config.http.trustProxy);

  const { routes, auth, metrics, databaseStats, background } = routeTable(dependencies);
  const handleError = errorHandler(logger);
  const corsEnabled = config.http.corsOrigins === '*' || config.http.corsOrigins.length > 0;
  app.use(
    sequence(
      requestLifecycle(dependencies.requestLogger ?? logger, metrics, config.requestTimeoutMs, handleError),
      ...(corsEnabled ? [cors({ origin: config.http.corsOrigins, exposedHeaders: ['ETag', 'Location', 'Retry-After'] })] : []),
      bodyParsers(BODY_LIMIT),
    ),
  );

  mountRoutes(app, routes, auth.authenticate);
  // The response writer adds the security headers to what it writes; Express's static files need them set.
  app.use('/docs', writerHeaders(), docsAssets());

  app.use(unknownRoute);
  app.use(handleError);
  return { app: Object.assign(app, { background }), databaseStats };
}
