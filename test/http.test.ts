import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { QueryFailedError } from 'typeorm';
import { errorHandler } from '../src/http/error-handler';
import { createTestApp, type TestApp } from './support/app';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp({ CORS_ORIGINS: 'https://app.example' });
});

afterAll(() => testApp.close());

/** A bare app whose only route throws `error`, with the service's error handler and a log we can read. */
function appThrowing(error: unknown) {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const app = express();
  app.get('/boom', () => {
    throw error;
  });
  app.use(errorHandler(logger));
  return { app, lines };
}

describe('the error handler', () => {
  it('answers 500 {"detail": "Internal Server Error"} for an unexpected error, logs it, and sends nothing of it', async () => {
    const { app, lines } = appThrowing(new Error('relation "secret_table" does not exist: SELECT * FROM secret_table'));
    const response = await request(app).get('/boom');
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ detail: 'Internal Server Error' });
    expect(response.text).not.toContain('secret_table');
    expect(lines.join('')).toContain('secret_table');
  });

  it('answers 409 with a detail for a PostgreSQL unique violation on an index it does not know', async () => {
    const violation = new QueryFailedError('INSERT …', [], Object.assign(new Error('duplicate key'), { code: '23505', constraint: 'some_index' }));
    const response = await request(appThrowing(violation).app).get('/boom');
    expect(response.status).toBe(409);
    expect(response.body).toEqual({ detail: 'The resource already exists' });
  });

  it('answers 503 {"detail": "Database unavailable"} when the database cannot be reached', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const response = await request(appThrowing(refused).app).get('/boom');
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ detail: 'Database unavailable' });
  });
});

describe('a path whose %-escapes do not decode', () => {
  it('answers 400 with a detail, not 500', async () => {
    const response = await request(testApp.app).get('/api/v1/tasks/%E0%A4%A');
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ detail: expect.stringContaining('Failed to decode param') });
  });
});

describe('a known path with another method', () => {
  it('answers 405 with an Allow header', async () => {
    const response = await request(testApp.app).put('/api/v1/users/me');
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('GET, PATCH, DELETE, HEAD, OPTIONS');
    expect(response.body).toEqual({ detail: 'Method Not Allowed' });
  });
});

describe('every response', () => {
  it('carries the security headers', async () => {
    const response = await request(testApp.app).get('/health');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['strict-transport-security']).toBeDefined();
    expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(response.headers['x-powered-by']).toBeUndefined();
  });
});

describe('CORS', () => {
  it('allows the origins CORS_ORIGINS lists, for a preflight and a request', async () => {
    const preflight = await request(testApp.app)
      .options('/api/v1/users/me')
      .set('Origin', 'https://app.example')
      .set('Access-Control-Request-Method', 'PATCH')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(preflight.headers['access-control-allow-methods']).toContain('PATCH');

    const actual = await request(testApp.app).get('/health').set('Origin', 'https://app.example');
    expect(actual.headers['access-control-allow-origin']).toBe('https://app.example');
  });

  it('does not allow other origins', async () => {
    const response = await request(testApp.app).get('/health').set('Origin', 'https://evil.example');
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });
});
