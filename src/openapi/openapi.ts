// class-transformer keeps @Type metadata here; its types live beside the compiled file.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as typeof import('class-transformer/types/storage');
import { getMetadataStorage } from 'class-validator';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import type { AnyRoute } from '../http/route';
import { isNullable, isOptional, type Class } from '../http/validation';
import { EARLIEST_DATE_TIME, LATEST_DATE_TIME } from '../http/validators';

type Schema = Record<string, unknown>;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request',
  401: 'Not authenticated: missing, invalid, expired or revoked token',
  404: 'Not found',
  409: 'Conflict: a unique field is taken',
  410: 'Gone: what the request names is no longer kept',
  412: 'Precondition failed: If-Match names a version the resource no longer has',
  413: 'Request body over 100 KiB',
  415: 'Unsupported media type',
  422: 'Validation error: one entry per failing field',
  429: 'Too many attempts; see Retry-After',
  500: 'Internal server error',
  503: 'Database unavailable',
};

const MEDIA_TYPES = { json: 'application/json', form: 'application/x-www-form-urlencoded' } as const;

/**
 * The OpenAPI 3.1 document of the route table. Schemas come from the class-validator decorators of
 * the same classes that validate requests (via class-validator-jsonschema), so the document cannot
 * say something the validation does not do.
 */
export function buildOpenApiDocument(routes: AnyRoute[], info: { title: string; version: string; license: string }): Schema {
  const schemas = validationMetadatasToSchemas({
    refPointerPrefix: '#/components/schemas/',
    classTransformerMetadataStorage: defaultMetadataStorage,
    additionalConverters: {
      isDateTimeWithOffset: { type: 'string', format: 'date-time', description: `From ${EARLIEST_DATE_TIME} to ${LATEST_DATE_TIME} (UTC)` },
      // int64 says the upper bound: 2^63 - 1 cannot be written as a JSON number without rounding up.
      isInt64: { type: 'integer', format: 'int64' },
      maxInt64: {},
    },
  }) as Record<string, Schema>;

  const responseClasses = new Set(routes.map((route) => route.success.schema).filter((schema): schema is Class => typeof schema === 'function'));
  // A class a response nests through @Type (a page's items) is a response too: every field present, the nullable ones as such.
  for (const cls of responseClasses) for (const nested of nestedClasses(cls, schemas)) responseClasses.add(nested);
  const usedClasses = new Set<Class>([...responseClasses]);
  for (const route of routes) if (route.body) usedClasses.add(route.body);
  const componentSchemas: Record<string, Schema> = {};
  for (const cls of usedClasses) componentSchemas[cls.name] = finishSchema(cls, schemas[cls.name], responseClasses.has(cls));
  // Query and path classes become parameters, written out in each operation: as components nothing would refer to them.
  const parameterSchemas: Record<string, Schema> = {};
  for (const route of routes)
    for (const cls of [route.query, route.params]) if (cls) parameterSchemas[cls.name] ??= finishSchema(cls, schemas[cls.name], false);
  // Classes a response refers to by $ref alone (the union of a sync page's changes) are responses too: every field present, null where nullable.
  const validatedClasses = classesByName();
  for (const cls of usedClasses) {
    for (const nested of referencedClasses(componentSchemas[cls.name])) {
      const nestedClass = validatedClasses.get(nested);
      componentSchemas[nested] ??= nestedClass && responseClasses.has(cls) ? finishSchema(nestedClass, schemas[nested], true) : schemas[nested];
    }
  }
  for (const schema of Object.values(parameterSchemas)) for (const nested of referencedClasses(schema)) componentSchemas[nested] ??= schemas[nested];
  Object.assign(componentSchemas, ERROR_SCHEMAS);

  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method] = operation(route, { ...componentSchemas, ...parameterSchemas });
  }

  return {
    openapi: '3.1.0',
    info: {
      title: info.title,
      version: info.version,
      description: 'Todo service: the HTTP contract of the FastAPI + SQLModel design, on Express, TypeORM and PostgreSQL.',
      license: { name: info.license, identifier: info.license },
    },
    // Relative: the server that serves this document (clients such as Swagger UI resolve paths against it).
    servers: [{ url: '/', description: 'The service that serves this document' }],
    paths,
    components: {
      schemas: componentSchemas,
      securitySchemes: {
        OAuth2PasswordBearer: { type: 'oauth2', flows: { password: { tokenUrl: '/api/v1/login/access-token', scopes: {} } } },
        BearerToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
  };
}

/** Defaults from the class's own initialisers, nullability, and "every field is always present" for responses. */
function finishSchema(cls: Class, generated: Schema | undefined, isResponse: boolean): Schema {
  const schema: Schema = { ...(generated ?? { type: 'object', properties: {} }) };
  const properties: Record<string, Schema> = { ...((schema.properties as Record<string, Schema>) ?? {}) };
  const defaults = new cls() as Record<string, unknown>;
  for (const [name, property] of Object.entries(properties)) {
    let finished = { ...property };
    if (defaults[name] !== undefined) finished.default = jsonValue(defaults[name]);
    if (isNullable(cls, name)) finished = finished.$ref ? { anyOf: [finished, { type: 'null' }] } : { ...finished, type: [finished.type, 'null'] };
    properties[name] = finished;
  }
  schema.properties = properties;
  if (isResponse) schema.required = Object.keys(properties).filter((name) => !isOptional(cls, name));
  if (!isResponse) schema.additionalProperties = false;
  return schema;
}

/** Defaults are small: a BigInt one (an int64 field's) is written as a JSON number. */
function jsonValue(value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

/** Every class with validation decorators, by name (class-validator-jsonschema reads the same storage). */
function classesByName(): Map<string, Class> {
  const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<Class, unknown> };
  return new Map([...storage.validationMetadatas.keys()].map((cls) => [cls.name, cls]));
}

/** The classes `cls` holds in its properties through class-transformer's @Type, among those with a schema. */
function nestedClasses(cls: Class, schemas: Record<string, Schema>): Class[] {
  return Object.keys((schemas[cls.name]?.properties as Schema | undefined) ?? {}).flatMap((property) => {
    const nested = defaultMetadataStorage.findTypeMetadata(cls, property)?.typeFunction();
    return typeof nested === 'function' && schemas[nested.name] ? [nested as Class] : [];
  });
}

function referencedClasses(schema: Schema): string[] {
  return [...JSON.stringify(schema).matchAll(/"#\/components\/schemas\/(\w+)"/g)].map((match) => match[1]);
}

function operation(route: AnyRoute, schemas: Record<string, Schema>): Schema {
  const operationSpec: Schema = {
    tags: [route.tag],
    summary: route.summary,
    operationId: `${route.method}_${
      route.path
        .replace(/^\/api\/v1\//, '')
        .replace(/[^A-Za-z0-9]+/g, '_')
        .replace(/^_|_$/g, '') || 'root'
    }`,
  };
  const parameters = [
    ...parametersOf(route.params, 'path', schemas),
    ...parametersOf(route.query, 'query', schemas),
    ...(['patch', 'put', 'delete'].includes(route.method) && route.errors?.includes(412)
      ? [{ name: 'If-Match', in: 'header', required: false, description: 'An ETag from an earlier response; a stale one gets 412', schema: { type: 'string' } }]
      : []),
    ...(route.ifNoneMatch
      ? [
          {
            name: 'If-None-Match',
            in: 'header',
            required: false,
            description: 'ETags from earlier responses (or *): 304 when one matches the current ETag (weak comparison)',
            schema: { type: 'string' },
          },
        ]
      : []),
    ...Object.entries(route.requestHeaders ?? {}).map(([name, description]) => ({
      name,
      in: 'header',
      required: false,
      description,
      schema: { type: 'string' },
    })),
  ];
  if (parameters.length) operationSpec.parameters = parameters;
  if (route.body) {
    const formats = route.bodyFormats ?? ['json'];
    operationSpec.requestBody = {
      required: true,
      content: Object.fromEntries(formats.map((format) => [MEDIA_TYPES[format], { schema: { $ref: `#/components/schemas/${route.body!.name}` } }])),
    };
  }
  // Public operations say so (`[]`: no credentials), rather than leave a reader to guess.
  operationSpec.security = route.auth ? [{ OAuth2PasswordBearer: [] }, { BearerToken: [] }] : [];
  operationSpec.responses = responses(route);
  return operationSpec;
}

function parametersOf(cls: Class | undefined, location: 'path' | 'query', schemas: Record<string, Schema>): Schema[] {
  if (!cls) return [];
  const schema = schemas[cls.name];
  const required = new Set((schema.required as string[]) ?? []);
  return Object.entries(schema.properties as Record<string, Schema>).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || required.has(name),
    schema: property,
  }));
}

function responses(route: AnyRoute): Schema {
  const { success } = route;
  const result: Record<string, Schema> = {};
  const body =
    success.schema === undefined
      ? undefined
      : success.schema === 'boolean' || success.schema === 'object'
        ? { type: success.schema }
        : { $ref: `#/components/schemas/${success.schema.name}` };
  result[String(success.status)] = {
    description: success.description,
    ...(body || success.contentType ? { content: { [success.contentType ?? 'application/json']: body ? { schema: body } : {} } } : {}),
    ...(success.headers
      ? { headers: Object.fromEntries(Object.entries(success.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }])) }
      : {}),
  };
  if (route.ifNoneMatch) {
    result['304'] = {
      description: 'Not Modified: If-None-Match matched; no body',
      headers: { ETag: { description: 'The current ETag', schema: { type: 'string' } } },
    };
  }
  const errors = new Set(route.errors ?? []);
  if (route.auth) errors.add(401);
  if (route.body || route.query || route.params) errors.add(422);
  if (route.body) [413, 415].forEach((status) => errors.add(status));
  if (route.database !== false) errors.add(503);
  errors.add(500);
  for (const status of [...errors].sort()) {
    const headers =
      status === 401
        ? { 'WWW-Authenticate': { description: 'Bearer', schema: { type: 'string' } } }
        : status === 429 || status === 503
          ? { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'string' } } }
          : undefined;
    result[String(status)] = {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error',
      ...(headers ? { headers } : {}),
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${status === 422 ? 'ValidationErrorBody' : 'ErrorBody'}` } } },
    };
  }
  return result;
}

const ERROR_SCHEMAS: Record<string, Schema> = {
  ErrorBody: {
    type: 'object',
    properties: { detail: { type: 'string' } },
    required: ['detail'],
  },
  ValidationErrorBody: {
    type: 'object',
    properties: {
      detail: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            loc: { type: 'array', items: { type: 'string' }, prefixItems: [{ enum: ['body', 'query', 'path', 'header'] }] },
            msg: { type: 'string' },
            type: { type: 'string' },
          },
          required: ['loc', 'msg', 'type'],
        },
      },
    },
    required: ['detail'],
  },
};
