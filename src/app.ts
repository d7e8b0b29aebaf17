import cors from 'cors';
import express, { type Express } from 'express';
import { Gauge } from 'prom-client';
import type { DataSource } from 'typeorm';
import { loginRoutes, logoutRoute } from './auth/auth.routes';
import { AuthService } from './auth/auth.service';
import { LoginRateLimiter } from './auth/login-rate-limiter';
import { PasswordHasher } from './auth/passwords';
import { createSessionsRepository } from './auth/sessions.repository';
import { TokenService } from './auth/tokens';
import type { Config } from './config';
import { Database } from './db/database';
import { healthRoutes } from './health/health.routes';
import { HealthService } from './health/health.service';
import { Metrics } from './observability/metrics';
import { requestLifecycle } from './observability/request-lifecycle';
import { docsAssets, docsRoutes } from './openapi/docs.routes';
import { buildOpenApiDocument } from './openapi/openapi';
import packageJson from '../package.json';
import { errorHandler, unknownRoute } from './http/error-handler';
import { securityHeaders } from './http/security-headers';
import { mountRoutes, type AnyRoute } from './http/route';
import type { Logger } from './logger';
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
  dataSource: DataSource;
  logger: Logger;
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
  background: BackgroundWork;
} {
  const database = new Database(dataSource);
  const sessionsRepository = createSessionsRepository(database);
  const usersRepository = createUsersRepository(database);
  const tasksRepository = createTasksRepository(database);

  const passwords = new PasswordHasher(config.auth.bcryptRounds, config.auth.bcryptConcurrency);
  const tokens = new TokenService(config.auth.jwtSecret, config.auth.accessTokenTtlSeconds);
  const rateLimiter = new LoginRateLimiter(config.auth.loginRateLimit, config.auth.loginRateLimitPerIp);
  const auth = new AuthService(sessionsRepository, usersRepository, passwords, tokens, rateLimiter, config.auth, logger);
  const users = new UsersService(usersRepository, tasksRepository, sessionsRepository, database, passwords);
  const tasks = new TasksService(tasksRepository);
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
    ...docsRoutes(() => (document ??= buildOpenApiDocument(routes, { title: 'Todo service', version: packageJson.version }))),
    ...loginRoutes(auth),
    // It answers the current user (UserPublic), so the users' routes define it; its place is among the login routes.
    testTokenRoute(users),
    logoutRoute(auth),
    ...userRoutes(users),
    ...taskRoutes(tasks, sync, streams),
  ];
  const background: BackgroundWork = {
    start: () => maintenance.start(),
    stop: async () => {
      maintenance.stop();
      await streams.stop();
    },
  };
  return { routes, auth, metrics, background };
}

/** Builds the Express app without listening, so tests drive it with supertest. */
export function createApp(dependencies: AppDependencies): App {
  const { config, logger } = dependencies;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', config.http.trustProxy);

  const { routes, auth, metrics, background } = routeTable(dependencies);
  const handleError = errorHandler(logger);
  app.use(requestLifecycle(logger, metrics, config.requestTimeoutMs, handleError));
  app.use(securityHeaders());
  if (config.http.corsOrigins === '*' || config.http.corsOrigins.length) {
    app.use(cors({ origin: config.http.corsOrigins, exposedHeaders: ['ETag', 'Location', 'Retry-After'] }));
  }
  app.use(express.json({ limit: BODY_LIMIT }));
  app.use(express.urlencoded({ extended: false, limit: BODY_LIMIT }));

  mountRoutes(app, routes, auth.authenticate);
  app.use('/docs', docsAssets());

  app.use(unknownRoute);
  app.use(handleError);
  return Object.assign(app, { background });
}
