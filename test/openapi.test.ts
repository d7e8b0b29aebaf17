import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Express } from 'express';
import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';
import { listRoutes, routeName } from './support/routes';
import { signUpAndLogIn } from './support/users';

let testApp: TestApp;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let document: any;

beforeAll(async () => {
  testApp = await createTestApp();
  document = (await request(testApp.app).get('/api/v1/openapi.json')).body;
});

afterAll(() => testApp.close());

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** "METHOD /path" for every route Express serves. */
function servedRoutes(app: Express): string[] {
  const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
  return stack
    .filter((layer) => layer.route)
    .flatMap((layer) => Object.keys(layer.route!.methods).map((method) => `${method.toUpperCase()} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`))
    .sort();
}

function documentedRoutes(): string[] {
  return Object.entries(document.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

describe('GET /api/v1/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(document))).resolves.toBeDefined();
  });

  it('lists exactly the routes Express serves', () => {
    expect(documentedRoutes()).toEqual(servedRoutes(testApp.app));
    expect(documentedRoutes()).toEqual(
      expect.arrayContaining(['GET /api/v1/tasks', 'PUT /api/v1/tasks/{id}', 'POST /api/v1/login/access-token', 'GET /docs', 'GET /metrics']),
    );
  });

  it('describes the bearer token and the OAuth2 password flow of login/access-token', () => {
    expect(document.components.securitySchemes.OAuth2PasswordBearer).toEqual({
      type: 'oauth2',
      flows: { password: { tokenUrl: '/api/v1/login/access-token', scopes: {} } },
    });
    expect(document.components.securitySchemes.BearerToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.paths['/api/v1/tasks'].get.security).toEqual([{ OAuth2PasswordBearer: [] }, { BearerToken: [] }]);
    expect(document.paths['/api/v1/users/signup'].post.security).toEqual([]);
  });

  it('says of every operation whether it needs credentials: the bearer schemes, or an explicit `security: []` (the route table, whole)', () => {
    for (const route of listRoutes()) {
      const operation = document.paths[route.path.replace(/:(\w+)/g, '{$1}')][route.method];
      const expected = route.auth ? [{ OAuth2PasswordBearer: [] }, { BearerToken: [] }] : [];
      expect({ route: routeName(route), security: operation.security }).toEqual({ route: routeName(route), security: expected });
    }
  });

  it('names its server (relative: wherever it is served from) and its license', () => {
    expect(document.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    expect(document.info.license).toEqual({ name: 'MIT', identifier: 'MIT' });
  });

  it('has no component that nothing refers to: query and path classes are written out as parameters', () => {
    const text = JSON.stringify(document.paths) + JSON.stringify(document.components.schemas);
    const unused = Object.keys(document.components.schemas).filter((name) => !text.includes(`"#/components/schemas/${name}"`));
    expect(unused).toEqual([]);
  });

  it('takes its schemas from the validation classes', () => {
    const { schemas } = document.components;
    expect(schemas.TaskCreate.properties.title).toMatchObject({ type: 'string', minLength: 1, maxLength: 200 });
    expect(schemas.TaskCreate.properties.description).toMatchObject({ type: ['string', 'null'], maxLength: 10000, default: null });
    expect(schemas.TaskCreate.properties.completed).toMatchObject({ type: 'boolean', default: false });
    expect(schemas.TaskCreate.properties.due_date).toMatchObject({ type: ['string', 'null'], format: 'date-time' });
    expect(schemas.TaskCreate.required).toEqual(['title']);
    expect(schemas.TaskCreate.additionalProperties).toBe(false);
    expect(schemas.TaskUpdate.required).toBeUndefined();
    expect(schemas.SignupRequest.properties.username.pattern).toBe('^[A-Za-z0-9_.-]{3,100}$');
    expect(schemas.SignupRequest.properties.password).toMatchObject({ minLength: 8, maxLength: 128 });
    expect(schemas.TaskPublic.required).toEqual(['id', 'user_id', 'title', 'description', 'completed', 'due_date', 'created_at', 'updated_at']);
    expect(schemas.TaskPage.properties.data).toEqual({ type: 'array', items: { $ref: '#/components/schemas/TaskPublic' } });
    expect(schemas.Token.properties.token_type).toMatchObject({ enum: ['bearer'] });
  });

  it('documents every query parameter with its bounds and default', () => {
    const parameters = Object.fromEntries(
      document.paths['/api/v1/tasks'].get.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => [p.name, p]),
    );
    expect(Object.keys(parameters).sort()).toEqual(['completed', 'due_after', 'due_before', 'limit', 'q', 'skip', 'sort']);
    expect(parameters.limit).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 100 } });
    // skip has no maximum but what a 64-bit integer holds: int64, and no `maximum` (2^63 - 1 is no exact JSON number).
    for (const path of ['/api/v1/tasks', '/api/v1/tasks/trash']) {
      const skip = document.paths[path].get.parameters.find((p: { name: string }) => p.name === 'skip');
      expect(skip.schema).toEqual({ type: 'integer', format: 'int64', minimum: 0, default: 0 });
    }
    expect(parameters.sort.schema).toMatchObject({ default: '-created_at', enum: expect.arrayContaining(['title', '-due_date']) });
    expect(document.paths['/api/v1/tasks/{id}'].get.parameters.filter((p: { in: string }) => p.in === 'path')).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
    ]);
  });

  it('lists every status code a route can answer', () => {
    const statuses = (path: string, method: string) => Object.keys(document.paths[path][method].responses);
    expect(statuses('/api/v1/tasks/{id}', 'patch')).toEqual(['200', '401', '404', '412', '413', '415', '422', '500', '503']);
    expect(statuses('/api/v1/login/access-token', 'post')).toEqual(['200', '400', '413', '415', '422', '429', '500', '503']);
    expect(statuses('/api/v1/tasks', 'post')).toEqual(['201', '401', '413', '415', '422', '500', '503']);
    expect(statuses('/health', 'get')).toEqual(['200', '500']);
    expect(document.paths['/api/v1/tasks'].post.responses['201'].headers).toHaveProperty('Location');
    expect(document.paths['/api/v1/login/access-token'].post.requestBody.content).toHaveProperty('application/x-www-form-urlencoded');
  });
});

describe('sync, conditional requests and the stream in the document', () => {
  it('documents If-None-Match and 304 on the task GETs, and the weak ETag of lists', () => {
    for (const path of ['/api/v1/tasks', '/api/v1/tasks/trash', '/api/v1/tasks/{id}', '/api/v1/tasks/sync']) {
      const get = document.paths[path].get;
      expect(get.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'If-None-Match', in: 'header', required: false })]));
      expect(get.responses['304']).toMatchObject({ headers: { ETag: expect.any(Object) } });
      expect(get.responses['304'].content).toBeUndefined();
      expect(get.responses['200'].headers).toHaveProperty('ETag');
    }
  });

  it('describes sync: its query, its union of changes, 410 and 422', () => {
    const sync = document.paths['/api/v1/tasks/sync'].get;
    expect(Object.keys(sync.responses)).toEqual(['200', '304', '401', '410', '422', '500', '503']);
    const limit = sync.parameters.find((parameter: { name: string }) => parameter.name === 'limit');
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, default: 500 });
    const { schemas } = document.components;
    expect(schemas.TaskChangePage.required).toEqual(['data', 'sync_token', 'has_more', 'full_sync']);
    expect(schemas.TaskChangePage.properties.data.items.discriminator.propertyName).toBe('state');
    expect(schemas.TaskChange.properties.state.enum).toEqual(['live', 'trashed']);
    expect(schemas.TaskChange.properties.deleted_at.type).toEqual(['string', 'null']);
    expect(schemas.TaskDeletion.required).toEqual(['id', 'user_id', 'state', 'deleted_at']);
  });

  it('describes the stream: an event stream, Last-Event-ID, 410, 422 and 429', () => {
    const stream = document.paths['/api/v1/tasks/stream'].get;
    expect(stream.responses['200'].content).toEqual({ 'text/event-stream': {} });
    expect(Object.keys(stream.responses)).toEqual(['200', '401', '410', '422', '429', '500', '503']);
    expect(stream.parameters.map((parameter: { name: string; in: string }) => `${parameter.in} ${parameter.name}`)).toEqual([
      'query sync_token',
      'header Last-Event-ID',
    ]);
  });
});

describe('real responses', () => {
  it('match the schemas the document gives them', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'openapi', components: document.components });
    const validate = (schemaName: string, body: unknown) => {
      const check = ajv.compile({ $ref: `openapi#/components/schemas/${schemaName}` });
      expect([schemaName, check(body), check.errors]).toEqual([schemaName, true, null]);
    };

    const user = await signUpAndLogIn(testApp.app);
    validate('Token', user.tokens);
    validate('UserPublic', (await request(testApp.app).get('/api/v1/users/me').set(user.auth)).body);
    const created = await request(testApp.app).post('/api/v1/tasks').set(user.auth).send({ title: 'documented' });
    validate('TaskPublic', created.body);
    await request(testApp.app).post('/api/v1/tasks').set(user.auth).send({ title: 'dated', description: 'x', due_date: '2027-01-01T00:00:00Z' });
    validate('TaskPage', (await request(testApp.app).get('/api/v1/tasks').set(user.auth)).body);
    await request(testApp.app).delete(`/api/v1/tasks/${created.body.id}`).set(user.auth);
    validate('TrashPage', (await request(testApp.app).get('/api/v1/tasks/trash').set(user.auth)).body);
    validate('SecurityEventPage', (await request(testApp.app).get('/api/v1/users/me/events').set(user.auth)).body);
    validate('ErrorBody', (await request(testApp.app).get('/api/v1/tasks').set('Authorization', 'Bearer nope')).body);
    validate('ValidationErrorBody', (await request(testApp.app).post('/api/v1/tasks').set(user.auth).send({ title: '' })).body);
    validate('ReadinessStatus', (await request(testApp.app).get('/ready')).body);

    const { sync_token } = (await request(testApp.app).get('/api/v1/tasks/sync').set(user.auth)).body;
    const trashed = await request(testApp.app).post('/api/v1/tasks').set(user.auth).send({ title: 'trashed' });
    await request(testApp.app).delete(`/api/v1/tasks/${trashed.body.id}`).set(user.auth).expect(204);
    await request(testApp.app).delete(`/api/v1/tasks/${created.body.id}/permanent`).set(user.auth).expect(204);
    const changes = (await request(testApp.app).get('/api/v1/tasks/sync').query({ sync_token }).set(user.auth)).body;
    expect(changes.data.map((change: { state: string }) => change.state).sort()).toEqual(['deleted', 'trashed']);
    validate('TaskChangePage', changes);
    validate('TaskChangePage', (await request(testApp.app).get('/api/v1/tasks/sync').set(user.auth)).body);
    validate('ValidationErrorBody', (await request(testApp.app).get('/api/v1/tasks/sync').query({ sync_token: 'forged' }).set(user.auth)).body);
  });
});
