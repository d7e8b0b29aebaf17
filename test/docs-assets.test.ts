import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import swaggerUiAssets from 'swagger-ui-dist/absolute-path.js';
import { createTestApp, type TestApp } from './support/app';

let testApp: TestApp;

beforeAll(async () => {
  testApp = await createTestApp();
});

afterAll(() => testApp.close());

/** Every file swagger-ui-dist installs, as paths relative to its folder. */
function packageFiles(): string[] {
  return fs.readdirSync(swaggerUiAssets(), { recursive: true, encoding: 'utf8' }).filter((file) => fs.statSync(path.join(swaggerUiAssets(), file)).isFile());
}

/** What the /docs page itself loads from /docs/. */
async function filesThePageLoads(): Promise<string[]> {
  const page = await request(testApp.app).get('/docs');
  expect(page.status).toBe(200);
  return [...page.text.matchAll(/(?:src|href)="\/docs\/([^"]+)"/g)].map((match) => match[1]).sort();
}

describe('the files under /docs/', () => {
  it('are exactly what the page loads: every other file of swagger-ui-dist answers 404 in the contract shape', async () => {
    const needed = await filesThePageLoads();
    expect(needed.length).toBeGreaterThan(0);
    const files = packageFiles();
    expect(files).toEqual(expect.arrayContaining(needed));
    expect(files.length).toBeGreaterThan(needed.length + 10);

    for (const file of files) {
      const response = await request(testApp.app).get(`/docs/${file}`);
      if (needed.includes(file)) {
        expect({ file, status: response.status }).toEqual({ file, status: 200 });
        expect(response.headers['cache-control']).toBe('public, max-age=3600');
      } else {
        expect({ file, status: response.status, body: response.body }).toEqual({ file, status: 404, body: { detail: 'Not Found' } });
      }
    }
  });

  it('answer 404 for a served file reached by another spelling of its path', async () => {
    const [served] = await filesThePageLoads();
    const spellings = [
      `/docs/./${served}`,
      `/docs//${served}`,
      `/docs/${served.toUpperCase()}`,
      `/docs/${served}/`,
      `/docs/${encodeURIComponent('../')}package.json`,
      `/docs/${served}%00`,
    ];
    for (const spelling of spellings) {
      const response = await request(testApp.app).get(spelling);
      expect({ spelling, status: response.status, body: response.body }).toEqual({ spelling, status: 404, body: { detail: 'Not Found' } });
    }
  });
});
