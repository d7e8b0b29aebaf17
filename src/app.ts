import cors from 'cors';
import express, { type Express } from 'express';
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
import { securityHeaders } from './http/security-headers';
import { mountRoutes, type AnyRoute } from './http/route';
import type { Logger } from './logger';
import { createMaintenanceRunsRepository } from './retention/maintenance-runs.repository';
import { RetentionService } from './retention/retention.service';
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
}

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
} {
  const { readUrls, readMaxLagMs, preparedStatements } = config.database;
  const database = new Database(dataSource, { preparedStatements, replicas: { readUrls, readMaxLagMs, logger } });
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
  const metrics = new Metrics(() => database.poolStats(), config.database.poolSize);
  if (database.hasReplicas) registerReplicaMetrics(metrics.registry, database, readMaxLagMs);
  const databaseStats = new DatabaseStats(new DatabaseStatsRepository(database), metrics.registry, logger, config.databaseStatsIntervalMs);
  const slowQueries = new SlowQueries(metrics.registry);
  database.onSlowQuery(() => slowQueries.count());
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
    ...auditRoutes(new AuditService(eventsRepository)),
    ...taskRoutes(tasks),
  ];
  return { routes, auth, metrics, databaseStats };
}

/** The Express app, and the work that runs beside it on a timer (the server starts and stops it). */
export interface ComposedApp {
  app: Express;
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
export function createApp(dependencies: AppDependencies): Express {
  return composeApp(dependencies).app;
}

/** The app and its timer-driven work, which nothing starts here: tests start none, the server starts it after it listens. */
export function composeApp(dependencies: AppDependencies): ComposedApp {
  const { config, logger } = dependencies;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', config.http.trustProxy);

  const { routes, auth, metrics, databaseStats } = routeTable(dependencies);
  const handleError = errorHandler(logger);
  app.use(requestLifecycle(logger, metrics, config.requestTimeoutMs, handleError));
  app.use(securityHeaders());
  if (config.http.corsOrigins === '*' || config.http.corsOrigins.length) {
    app.use(cors({ origin: config.http.corsOrigins, exposedHeaders: ['ETag', 'Location', 'Retry-After'] }));
  }
  app.use(bodyParsers(BODY_LIMIT));

  mountRoutes(app, routes, auth.authenticate);
  app.use('/docs', docsAssets());

  app.use(unknownRoute);
  app.use(handleError);
  return { app, databaseStats };
}
