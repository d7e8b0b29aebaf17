import crypto from 'node:crypto';
import fc from 'fast-check';
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, ValidationTypes } from 'class-validator';
import type { Express } from 'express';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { routeTable } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { AnyRoute, BodyFormat } from '../../src/http/route';
import type { Class, Location } from '../../src/http/validation';
import { silentLogger, testDataSource } from './database';

/**
 * The route table exactly as the app builds it, so tests can loop over it at load time. The data
 * source is never opened: only the routes' descriptions are read.
 */
export function listRoutes(): AnyRoute[] {
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'routes-are-only-listed-0123456789abcdefghijkl' });
  return routeTable({ config, dataSource: testDataSource('postgres://127.0.0.1:1/never-opened'), logger: silentLogger }).routes;
}

export const routeName = (route: AnyRoute) => `${route.method.toUpperCase()} ${route.path}`;

/** One declared input of a route, with its class-validator constraints (`maxLength` → `[200]`). */
export interface InputField {
  route: AnyRoute;
  location: Location;
  cls: Class;
  name: string;
  optional: boolean;
  constraints: Map<string, unknown[]>;
}

export function fieldsOf(route: AnyRoute, cls: Class, location: Location): InputField[] {
  const fields = new Map<string, InputField>();
  for (const meta of getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false)) {
    const field = fields.get(meta.propertyName) ?? { route, location, cls, name: meta.propertyName, optional: false, constraints: new Map() };
    if (meta.type === ValidationTypes.CONDITIONAL_VALIDATION) field.optional = true;
    else field.constraints.set(meta.name ?? meta.type, meta.constraints ?? []);
    fields.set(meta.propertyName, field);
  }
  return [...fields.values()];
}

/** Every declared input of a route: path, query and body fields. */
export function inputFields(route: AnyRoute): InputField[] {
  return [
    ...(route.params ? fieldsOf(route, route.params, 'path') : []),
    ...(route.query ? fieldsOf(route, route.query, 'query') : []),
    ...(route.body ? fieldsOf(route, route.body, 'body') : []),
  ];
}

export const describeField = (field: InputField) => `${routeName(field.route)} ${field.location}.${field.name}`;

/** Whether the class trims this field before checking it (as it does a task title). */
export function isTrimmed(field: InputField): boolean {
  return (plainToInstance(field.cls, { [field.name]: ' x ' }) as Record<string, unknown>)[field.name] === 'x';
}

/** A JSON text put into a body as it is (e.g. an array nested 10,000 deep, which JSON.stringify would have to recurse into). */
export class RawJson {
  constructor(
    readonly text: string,
    private readonly label: string,
  ) {}

  /** How fast-check prints it in a counterexample: the recipe, not 20,000 brackets. */
  [fc.toStringMethod](): string {
    return this.label;
  }
}

export const nestedArrays = (depth: number) => new RawJson('['.repeat(depth) + ']'.repeat(depth), `nestedArrays(${depth})`);
export const nestedObjects = (depth: number) => new RawJson('{"a":'.repeat(depth) + 'null' + '}'.repeat(depth), `nestedObjects(${depth})`);

export interface Caller {
  auth: { Authorization: string };
  taskId: string;
}

/** A word no other test used, for unique usernames and emails. */
export function uniqueWord(): string {
  return `u${crypto.randomBytes(6).toString('hex')}`;
}

/**
 * A value the field's constraints accept, read from its metadata. Throws for a constraint it does not
 * know, so a new kind of field cannot be skipped silently: teach this function about it.
 */
export function validValue(field: InputField, caller: Caller): unknown {
  const constraint = (name: string) => field.constraints.get(name);
  if (constraint('isUuid')) return caller.taskId;
  if (constraint('isBoolean')) return true;
  if (constraint('isDateTimeWithOffset')) return '2030-01-01T00:00:00Z';
  if (constraint('isIn')) return (constraint('isIn')![0] as unknown[])[0];
  if (constraint('equals')) return constraint('equals')![0];
  if (constraint('isInt') || constraint('isInt64')) return Number(constraint('min')?.[0] ?? 0);
  if (constraint('isEmail')) return `${uniqueWord()}@example.com`;
  const pattern = constraint('matches')?.[0];
  if (pattern instanceof RegExp) {
    const word = uniqueWord();
    if (!pattern.test(word)) throw new Error(`${describeField(field)}: no valid value known for pattern ${pattern}`);
    return word;
  }
  if (constraint('isString')) return 'x'.repeat(Math.max(1, Number(constraint('minLength')?.[0] ?? 1)));
  throw new Error(`${describeField(field)}: no valid value known for constraints ${[...field.constraints.keys()].join(', ')}`);
}

export interface RouteInput {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body?: Record<string, unknown>;
}

/** A request every field of which is valid: the required fields, plus `overrides` (`undefined` removes one). */
export function validInput(route: AnyRoute, caller: Caller, overrides: Partial<Record<Location, Record<string, unknown>>> = {}): RouteInput {
  const input: RouteInput = { params: {}, query: {}, body: route.body ? {} : undefined };
  for (const field of inputFields(route)) {
    const target = field.location === 'path' ? input.params : field.location === 'query' ? input.query : input.body!;
    if (!field.optional) target[field.name] = validValue(field, caller);
  }
  for (const [location, values] of Object.entries(overrides)) {
    const target = location === 'path' ? input.params : location === 'query' ? input.query : input.body!;
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete target[name];
      else target[name] = value;
    }
  }
  return input;
}

function jsonText(body: Record<string, unknown>): string {
  return `{${Object.entries(body)
    .map(([name, value]) => `${JSON.stringify(name)}:${value instanceof RawJson ? value.text : JSON.stringify(value)}`)
    .join(',')}}`;
}

const asText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));
const textEntries = (values: Record<string, unknown>) => Object.entries(values).map(([name, value]): [string, string] => [name, asText(value)]);

/**
 * For a streaming route (Server-Sent Events), a 200 never ends: the response is read up to its
 * first chunk and the connection closed, so the request resolves with what the stream began with.
 * Any other answer is read whole, as JSON.
 */
export function readingStreamsBriefly(route: AnyRoute, test: request.Test): request.Test {
  if (!route.streaming) return test;
  return test.buffer(true).parse((res, done) => {
    if (String(res.headers['content-type']).startsWith('text/event-stream')) {
      res.once('data', (chunk: Buffer) => {
        done(null, chunk.toString());
        // superagent hands its parser Node's response stream, typed as its own Response.
        (res as unknown as NodeJS.ReadableStream & { destroy(): void }).destroy();
      });
      return;
    }
    let text = '';
    res.on('data', (chunk: Buffer) => (text += chunk));
    res.on('end', () => done(null, text ? JSON.parse(text) : undefined));
  });
}

/** Sends a route's input as a client would: path segments and query values percent-encoded, the body as JSON or as a form. */
export function send(app: Express, route: AnyRoute, input: RouteInput, options: { auth?: { Authorization: string }; format?: BodyFormat } = {}) {
  // A UTF-8 encoder writes a lone surrogate as U+FFFD (encodeURIComponent would throw instead).
  const path = route.path.replace(/:(\w+)/g, (_match, name: string) => encodeURIComponent(asText(input.params[name]).replace(/\p{Cs}/gu, '\uFFFD')));
  const search = new URLSearchParams(textEntries(input.query)).toString();
  let pending = readingStreamsBriefly(route, request(app)[route.method](search ? `${path}?${search}` : path));
  if (options.auth) pending = pending.set(options.auth);
  if (!input.body) return pending;
  if ((options.format ?? 'json') === 'form') {
    return pending.type('form').send(new URLSearchParams(textEntries(input.body)).toString());
  }
  return pending.type('json').send(jsonText(input.body));
}

/** Everything a rejected request must leave as it was. */
export async function databaseFingerprint(dataSource: DataSource): Promise<string> {
  const [row] = await dataSource.query(`
    SELECT (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM tasks t) AS tasks,
           (SELECT md5(coalesce(string_agg(u::text, ',' ORDER BY id), '')) FROM users u) AS users,
           (SELECT md5(coalesce(string_agg(s::text, ',' ORDER BY id), '')) FROM sessions s) AS sessions`);
  return JSON.stringify(row);
}
