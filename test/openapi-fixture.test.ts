import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';

/**
 * The OpenAPI document as the service served it before the data layer was restructured (issue 12),
 * kept so that a refactoring cannot move the documented contract by one byte unnoticed. When the
 * contract changes on purpose, rewrite the fixture: UPDATE_OPENAPI_FIXTURE=1 npx jest test/openapi-fixture.test.ts
 */
const FIXTURE = path.join(__dirname, 'fixtures', 'openapi.json');

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

describe('GET /api/v1/openapi.json', () => {
  it('serves the document of test/fixtures/openapi.json byte for byte (keys in the same order)', async () => {
    const response = await request(testApp.app).get('/api/v1/openapi.json');
    expect(response.status).toBe(200);
    if (process.env.UPDATE_OPENAPI_FIXTURE === '1') fs.writeFileSync(FIXTURE, `${JSON.stringify(JSON.parse(response.text), null, 2)}\n`);
    // The fixture is stored indented for readable diffs; the service sends it without whitespace.
    expect(response.text).toBe(JSON.stringify(JSON.parse(fs.readFileSync(FIXTURE, 'utf8'))));
  });
});
