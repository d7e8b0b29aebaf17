import express, { type Express } from 'express';
import type { DataSource } from 'typeorm';
import type { Config } from './config';
import { healthRoutes } from './health/health.controller';
import { errorHandler, unknownRoute } from './http/error-handler';
import type { Logger } from './logger';

export interface AppDependencies {
  config: Config;
  dataSource: DataSource;
  logger: Logger;
}

/** Builds the Express app without listening, so tests drive it with supertest. */
export function createApp({ dataSource, logger }: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use(healthRoutes(dataSource));

  app.use(unknownRoute);
  app.use(errorHandler(logger));
  return app;
}
