import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createTodoClient, logIn, type TodoClient } from '../clients/typescript/src/client';
import { TaskMirror } from '../clients/typescript/examples/mirror';
import { createHttpServer } from '../src/http/http-server';
import { createTestApp, type TestApp } from './support/app';
import { silentLogger } from './support/database';
import { projectRoot, startProcess, waitFor, type RunningProcess } from './support/processes';
import { serverState } from './support/sync';
import { signUp } from './support/users';

/** The committed types, and what regenerates them (package.json `client:generate` runs the same on the committed document). */
const SCHEMA_TYPES = path.join(projectRoot, 'clients', 'typescript', 'src', 'schema.d.ts');
const OPENAPI_TYPESCRIPT = path.join(projectRoot, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');

/** The arguments of package.json's `client:generate`, reading `input` and writing `output`: the check regenerates exactly as the script does. */
function generateArguments(input: string, output: string): string[] {
  const [command, ...args] = (JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')).scripts['client:generate'] as string).split(' ');
  expect(command).toBe('openapi-typescript');
  return args.map((arg) => (arg === 'test/fixtures/openapi.json' ? input : arg === 'clients/typescript/src/schema.d.ts' ? output : arg));
}

jest.setTimeout(60_000);

let testApp: TestApp;
let server: http.Server;
let baseUrl: string;

beforeAll(async () => {
  testApp = await createTestApp({ STREAM_HEARTBEAT_MS: '500' });
  server = createHttpServer(testApp.app, testApp.config, silentLogger);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await testApp.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('clients/typescript', () => {
  it('has the types openapi-typescript makes of the document the service serves, byte for byte (regenerate: npm run client:generate)', async () => {
    const served = await request(testApp.app).get('/api/v1/openapi.json').expect(200);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-client-'));
    try {
      fs.writeFileSync(path.join(dir, 'openapi.json'), served.text);
      execFileSync(process.execPath, [OPENAPI_TYPESCRIPT, ...generateArguments(path.join(dir, 'openapi.json'), path.join(dir, 'schema.d.ts'))], {
        stdio: 'pipe',
        cwd: projectRoot,
      });
      expect(fs.readFileSync(path.join(dir, 'schema.d.ts'), 'utf8')).toBe(fs.readFileSync(SCHEMA_TYPES, 'utf8'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps the example's mirror equal to the caller's tasks through sync and the stream, whatever the writes", async () => {
    const user = await signUp(testApp.app);
    const session: { accessToken?: string } = {};
    const client: TodoClient = createTodoClient({ baseUrl, accessToken: () => session.accessToken });
    session.accessToken = (await logIn(client, user.username, user.password)).access_token;
    const create = async (title: string) => (await client.POST('/api/v1/tasks', { body: { title } })).data!.id;
    const before = await create('before the mirror');
    const mirror = new TaskMirror(client);
    const following = mirror.follow();
    try {
      const mirrored = async () => {
        const expected = await serverState(testApp.dataSource, user.id);
        const actual = [...mirror.tasks.values()].sort((a, b) => a.id.localeCompare(b.id));
        return JSON.stringify(actual) === JSON.stringify(expected) ? true : undefined;
      };
      await waitFor(mirrored, 10_000, 'the first sync');
      expect([...mirror.tasks.keys()]).toEqual([before]);

      const kept = await create('kept');
      const trashed = await create('trashed');
      const gone = await create('deleted for good');
      expect((await client.PATCH('/api/v1/tasks/{id}', { params: { path: { id: kept } }, body: { completed: true } })).response.status).toBe(200);
      expect((await client.DELETE('/api/v1/tasks/{id}', { params: { path: { id: trashed } } })).response.status).toBe(204);
      expect((await client.DELETE('/api/v1/tasks/{id}/permanent', { params: { path: { id: gone } } })).response.status).toBe(204);
      expect((await client.DELETE('/api/v1/tasks/{id}', { params: { path: { id: before } } })).response.status).toBe(204);
      expect((await client.POST('/api/v1/tasks/{id}/restore', { params: { path: { id: before } } })).response.status).toBe(200);
      await waitFor(mirrored, 10_000, 'the stream to bring every change');
      expect(mirror.tasks.get(kept)).toMatchObject({ state: 'live', completed: true });
      expect(mirror.tasks.get(trashed)).toMatchObject({ state: 'trashed' });
      expect(mirror.tasks.has(gone)).toBe(false);
    } finally {
      mirror.stop();
      await following;
    }
  });

  it('runs as a script: logs in from the environment and prints a line per round of changes', async () => {
    const user = await signUp(testApp.app);
    // As its header says to run it, with ts-node (transpile only: the type check is npm run typecheck's).
    const example = path.join(projectRoot, 'clients', 'typescript', 'examples', 'mirror.ts');
    const running: RunningProcess = startProcess(process.execPath, ['-r', 'ts-node/register/transpile-only', example], {
      TODO_URL: baseUrl,
      TODO_USERNAME: user.username,
      TODO_PASSWORD: user.password,
    });
    try {
      const auth = { Authorization: `Bearer ${(await logIn(createTodoClient({ baseUrl }), user.username, user.password)).access_token}` };
      // The script's first sync finds nothing; its stream is open once the service counts it.
      await waitFor(
        async () => ((await testApp.dataSource.query('SELECT 1 FROM task_streams WHERE user_id = $1', [user.id])).length ? true : undefined),
        10_000,
        'the stream',
      );
      const created = await request(testApp.app).post('/api/v1/tasks').set(auth).send({ title: 'seen by the script' }).expect(201);
      await waitFor(
        async () => (running.output().includes(`1 tasks; changed: ${created.body.id} live`) ? true : undefined),
        10_000,
        'the script to print the change',
      );
    } finally {
      running.child.kill('SIGINT');
      expect(await running.exited).toEqual({ code: 0, signal: null });
    }
  });
});
