import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { createTestApp, type TestApp } from './support/app';
import { signUp } from './support/users';
import { projectRoot } from './support/processes';

/** Debian's chromium (`apt-get install chromium`); .ci/run installs it. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = path.join(projectRoot, '.artifacts', 'docs-created-task.png');
const haveChromium = fs.existsSync(CHROMIUM);

if (!haveChromium) {
  console.warn(
    `\n${'!'.repeat(78)}\n!! SKIPPED: the Swagger UI browser test needs Chromium at ${CHROMIUM}.\n` +
      `!! Install it (apt-get install chromium) or set CHROMIUM_PATH.\n${'!'.repeat(78)}\n`,
  );
}

jest.setTimeout(60_000);

let testApp: TestApp;
let server: http.Server;
let baseUrl: string;
let browser: Browser;

beforeAll(async () => {
  if (!haveChromium) return;
  testApp = await createTestApp();
  server = http.createServer(testApp.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  if (!haveChromium) return;
  await browser?.close();
  await new Promise((resolve) => server.close(resolve));
  await testApp.close();
});

(haveChromium ? describe : describe.skip)('Swagger UI at /docs', () => {
  it('authorizes through the password flow and creates a task with "Try it out"', async () => {
    const user = await signUp(testApp.app);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });

    await page.goto(`${baseUrl}/docs`);
    await page.waitForSelector('.swagger-ui .opblock', { timeout: 20_000 });

    await page.click('button.authorize');
    await page.fill('#oauth_username', user.username);
    await page.fill('#oauth_password', user.password);
    await page.click('.auth-container button.modal-btn.authorize');
    await page.getByText('Authorized', { exact: true }).waitFor({ timeout: 10_000 });
    await page.click('.auth-container button.btn-done');

    const createTask = page.locator('#operations-tasks-post_tasks');
    await createTask.locator('.opblock-summary').click();
    const tryItOut = createTask.locator('button.try-out__btn');
    if ((await tryItOut.innerText()).includes('Try it out')) await tryItOut.click();
    await createTask.locator('textarea.body-param__text').fill(JSON.stringify({ title: 'Created from Swagger UI', description: 'through /docs' }));
    await createTask.locator('button.execute').click();

    const response = createTask.locator('.live-responses-table .response').first();
    await response.locator('.response-col_status').waitFor({ timeout: 10_000 });
    expect((await response.locator('.response-col_status').innerText()).trim()).toBe('201');
    const body = JSON.parse(await response.locator('.response-col_description pre').first().innerText());
    expect(body).toMatchObject({ title: 'Created from Swagger UI', description: 'through /docs', user_id: user.id });

    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await createTask.locator('.live-responses-table').screenshot({ path: SCREENSHOT });

    const [row] = await testApp.dataSource.query('SELECT title FROM tasks WHERE id = $1', [body.id]);
    expect(row.title).toBe('Created from Swagger UI');
    expect(pageErrors).toEqual([]);
  });
});
