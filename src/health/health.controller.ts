import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { ServiceUnavailableError } from '../http/errors';

export function healthRoutes(dataSource: DataSource): Router {
  const router = Router();

  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/ready', async (_req, res) => {
    try {
      await dataSource.query('SELECT 1');
    } catch {
      throw new ServiceUnavailableError();
    }
    res.json({ status: 'ok', database: 'ok' });
  });

  router.get('/api/v1/utils/health-check/', (_req, res) => {
    res.json(true);
  });

  return router;
}
