import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import fc from 'fast-check';
import pino from 'pino';
import request from 'supertest';
import { QueryFailedError } from 'typeorm';
import { errorHandler } from '../src/http/error-handler';
import { createHttpServer } from '../src/http/http-server';
import { createTestApp, type TestApp } from './support/app';
import { silentLogger } from './support/database';
import { rawExchange, type RawResponse } from './support/raw-http';

/** Short, so a slow sender is cut off within the test's time; production's default is 10 s. */
const HEADERS_TIMEOUT_MS = 1500;

let testApp: TestApp;
/** The service's own HTTP server (timeouts, parser errors) around the app, listening on a free port. */
let server: http.Server;
let port: number;

beforeAll(async () => {
  testApp = await createTestApp({ CORS_ORIGINS: 'https://app.example', HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) });
  server = createHttpServer(testApp.app, testApp.config, silentLogger);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await testApp.close();
});

/** The contract's error shape, written completely: JSON with a length, and the connection closed after it. */
function expectContractError(response: RawResponse, status: number, detail: RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body));
  expect(response.headers.connection).toBe('close');
  expect(JSON.parse(response.body)).toEqual({ detail: expect.stringMatching(detail) });
}

const request11 = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;

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

describe('requests that the HTTP parser of Node refuses before the app sees them', () => {
  it('answer 431 in the contract shape when the headers are larger than 16 KiB, however they are made large', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 16_500, max: 24_000 }), fc.constantFrom('one long header', 'many headers', 'a long path'), async (size, shape) => {
        const lines =
          shape === 'one long header'
            ? ['GET /health HTTP/1.1', 'Host: x', `X-Big: ${'a'.repeat(size)}`]
            : shape === 'many headers'
              ? ['GET /health HTTP/1.1', 'Host: x', ...Array.from({ length: Math.ceil(size / 20) }, (_, i) => `X-Header-${i}: ${'v'.repeat(16)}`)]
              : [`GET /health?${'q'.repeat(size)} HTTP/1.1`, 'Host: x'];
        expectContractError(await rawExchange(port, [request11(lines)]), 431, /^Request header fields too large$/);
      }),
      { numRuns: 15 },
    );
  });

  it('answer 400 in the contract shape for a malformed request line or header, with the reason the parser gives', async () => {
    const tokenBreakers = [...'()<>@,;\\"/[]?={} \t'];
    const controlCharacters = [...Array.from({ length: 32 }, (_, code) => code).filter((code) => ![9, 10, 13].includes(code)), 127].map((code) =>
      String.fromCharCode(code),
    );
    const malformed = fc.oneof(
      fc
        .tuple(fc.constantFrom(...controlCharacters), fc.string({ maxLength: 8 }))
        .map(([bad, text]) => request11(['GET /health HTTP/1.1', 'Host: x', `X-Value: ${text}${bad}${text}`])),
      fc.constantFrom(...tokenBreakers).map((bad) => request11(['GET /health HTTP/1.1', 'Host: x', `X-Na${bad}me: 1`])),
      fc
        .stringMatching(/^[A-Z]{2,8}$/)
        .filter((method) => !http.METHODS.some((known) => known.startsWith(method) || method.startsWith(known)))
        .map((method) => request11([`${method} /health HTTP/1.1`, 'Host: x'])),
      fc.constantFrom(' ', '\x01', '\x7f').map((bad) => request11([`GET /he${bad}alth HTTP/1.1`, 'Host: x'])),
      fc.integer({ min: 2, max: 9 }).map((major) => request11([`GET /health HTTP/${major}.${major}`, 'Host: x'])),
      fc.stringMatching(/^[0-9]{0,3}[a-z+-][0-9]{0,3}$/).map((length) => request11(['POST /api/v1/tasks HTTP/1.1', 'Host: x', `Content-Length: ${length}`])),
      fc.constant(request11(['POST /api/v1/tasks HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Transfer-Encoding: chunked'])),
    );
    await fc.assert(
      fc.asyncProperty(malformed, async (raw) => {
        expectContractError(await rawExchange(port, [raw]), 400, /^Bad Request: malformed HTTP request \(.+\)$/);
      }),
      { numRuns: 60 },
    );
  });

  it('answer an HTTP/1.1 request without Host with 400, and an unknown Expect with 417, in the contract shape', async () => {
    expectContractError(await rawExchange(port, [request11(['GET /health HTTP/1.1'])]), 400, /Host header/);
    expectContractError(await rawExchange(port, [request11(['GET /health HTTP/1.1', 'Host: x', 'Expect: coffee'])]), 417, /100-continue/);
  });
});

describe('a client sending its headers slowly', () => {
  it('is answered 408 in the contract shape and disconnected once HEADERS_TIMEOUT_MS has passed, while other clients are served', async () => {
    const trickle = ['GET /health HTTP/1.1\r\nHost: x\r\n', ...Array.from({ length: 30 }, (_, i) => `X-Slow-${i}: 1\r\n`)];
    const slow = rawExchange(port, trickle, { intervalMs: 500, timeoutMs: 6000 });

    await new Promise((resolve) => setTimeout(resolve, HEADERS_TIMEOUT_MS / 2));
    const other = await fetch(`http://127.0.0.1:${port}/health`);
    expect(other.status).toBe(200);

    const response = await slow;
    expectContractError(response, 408, /^Request timeout/);
    // Node checks its timeouts every connectionsCheckingInterval, which the server keeps to a quarter of the limit.
    expect(response.elapsedMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(response.elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS * 1.25 + 500);
  });
});
