import type { Express, Request, RequestHandler } from 'express';
import { Abandonment } from './abandonment';
import { HttpError } from './errors';
import { EventStream, Reply, startEventStream, writeResponse } from './reply';
import { RequestValidationError, validateInput, type Class } from './validation';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** What a request body may be sent as; JSON unless a route says otherwise. */
export type BodyFormat = 'json' | 'form';

const MEDIA_TYPES: Record<BodyFormat, string> = { json: 'application/json', form: 'application/x-www-form-urlencoded' };

/** The authenticated caller: the user and the session its access token names, both checked live. */
export interface Principal {
  userId: string;
  sessionId: string;
  /** With read replicas: where the session's last write ended in the WAL (its reads need a replica that far). */
  lastWriteLsn?: string | null;
}

/** What a handler is given. It answers by returning its result (a body, or a Reply); `handle()` writes it. */
export interface RouteContext<B, Q, P> {
  req: Request;
  /** Fires when nobody waits for the answer any more (the request timed out, or the client left). */
  abandoned: AbortSignal;
  body: B;
  query: Q;
  params: P;
}

type Authenticated<A extends boolean> = A extends true ? { principal: Principal } : object;

/** A success response: its status, and the class (or `[Class]` for a list) that documents its body. */
export interface SuccessResponse {
  status: number;
  description: string;
  schema?: Class | 'boolean' | 'object';
  /** `application/json` unless said otherwise. */
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * One row of the route table: everything Express needs to serve the route and everything the
 * OpenAPI document says about it, in one place.
 */
export interface RouteSpec<A extends boolean = boolean, B = unknown, Q = unknown, P = unknown> {
  method: Method;
  /** Express path, e.g. `/api/v1/tasks/:id`. */
  path: string;
  summary: string;
  tag: string;
  auth: A;
  body?: Class<B>;
  bodyFormats?: BodyFormat[];
  query?: Class<Q>;
  params?: Class<P>;
  success: SuccessResponse;
  /** Error statuses the route can answer besides 401 (auth routes) and 422 (routes with input). */
  errors?: number[];
  /** False for routes that never touch the database, so they can never answer 503. */
  database?: false;
  /**
   * A GET answered 304 when If-None-Match matches its ETag: `'handler'`, the ETag the handler sets;
   * `'body'`, a weak ETag the writer makes of the body.
   */
  ifNoneMatch?: 'handler' | 'body';
  /** The handler returns an EventStream, which stays open: the request deadline stops once it starts. */
  streaming?: true;
  /** Request headers the route reads, by name, with what they mean (for the OpenAPI document). */
  requestHeaders?: Record<string, string>;
  /** Returns the body (sent as JSON with `success.status`; undefined for none), or a Reply. */
  handler(context: RouteContext<B, Q, P> & Authenticated<A>): Promise<unknown> | unknown;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteSpec<boolean, any, any, any>;

export function defineRoute<A extends boolean, B = undefined, Q = undefined, P = undefined>(spec: RouteSpec<A, B, Q, P>): AnyRoute {
  return spec as AnyRoute;
}

/** Checks the bearer token of a request (undefined when there is none); throws when it does not authenticate. */
export type Authenticator = (bearerToken: string | undefined) => Promise<Principal>;

const BEARER = /^Bearer ([^\s]+)$/i;

/** The token of an `Authorization: Bearer <token>` header. */
function bearerToken(header: string | undefined): string | undefined {
  return header ? BEARER.exec(header)?.[1] : undefined;
}

/**
 * Serves the route table: authenticate, validate path, query and body (all failures in one 422),
 * call the handler, write its result (with the route's status, unless a Reply says otherwise).
 * Known paths answer other methods with 405 and an `Allow` header, as FastAPI does.
 */
export function mountRoutes(app: Express, routes: AnyRoute[], authenticate: Authenticator): void {
  for (const route of routes) app[route.method](route.path, handle(route, authenticate));

  const methodsByPath = new Map<string, string[]>();
  for (const route of routes) methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method.toUpperCase()]);
  for (const [path, methods] of methodsByPath) {
    const allow = [...new Set([...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS'])].join(', ');
    // Middleware rather than a route, so that only the table's own routes are routes; exact path only.
    app.use(path, (req, res, next) => {
      if (req.path !== '/') return next();
      if (req.method === 'OPTIONS') {
        writeResponse(res, 204, undefined, { Allow: allow });
        return;
      }
      throw new HttpError(405, 'Method Not Allowed', { Allow: allow });
    });
  }
}

/** A handler's RouteContext: a class, so every request's context has one shape and no per-request getter. */
class HandlerContext {
  constructor(
    readonly req: Request,
    private readonly abandonment: Abandonment,
    readonly principal: Principal | undefined,
    readonly params: unknown,
    readonly query: unknown,
    readonly body: unknown,
  ) {}

  /** Made on first use: most handlers never look. */
  get abandoned(): AbortSignal {
    return this.abandonment.signal;
  }
}

function handle(route: AnyRoute, authenticate: Authenticator): RequestHandler {
  const formats = route.bodyFormats ?? ['json'];
  return async (req, res) => {
    const principal = route.auth ? await authenticate(bearerToken(req.headers.authorization)) : undefined;
    if (principal) res.locals.userId = principal.userId;
    const params = route.params && validateInput(route.params, req.params, 'path');
    const query = route.query && validateInput(route.query, req.query, 'query');
    const body = route.body && validateInput(route.body, requestBody(req, formats), 'body');
    if (params?.issues.length || query?.issues.length || body?.issues.length) {
      throw new RequestValidationError([...(params?.issues ?? []), ...(query?.issues ?? []), ...(body?.issues ?? [])]);
    }

    const result = await route.handler(
      new HandlerContext(req, res.locals.abandonment ?? new Abandonment(), principal, params?.value, query?.value, body?.value),
    );
    if (result instanceof EventStream) {
      if (!route.streaming) throw new Error(`${route.method.toUpperCase()} ${route.path} returned an event stream but does not declare streaming`);
      // The answer has started and is meant to last: the request lifecycle's deadline no longer applies.
      (res.locals.clearDeadline as (() => void) | undefined)?.();
      startEventStream(res, result);
      return;
    }
    const reply = result instanceof Reply ? result : undefined;
    const status = reply?.status ?? route.success.status;
    const revalidation = route.ifNoneMatch && status === 200 ? { etag: route.ifNoneMatch, ifNoneMatch: req.headers['if-none-match'] } : undefined;
    if (reply) writeResponse(res, status, reply.body, reply.headers, reply.contentType, revalidation);
    else writeResponse(res, status, result, undefined, undefined, revalidation);
  };
}

/** The parsed body, after checking it came in a format the route accepts. An empty form is a form without fields. */
function requestBody(req: Request, formats: BodyFormat[]): unknown {
  if (!hasBody(req)) return formats.includes('form') ? {} : undefined;
  if (!formats.some((format) => req.is(MEDIA_TYPES[format]))) {
    const accepted = formats.map((format) => MEDIA_TYPES[format]).join(' or ');
    throw new HttpError(415, `Unsupported Media Type: send ${accepted}`);
  }
  return req.body;
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}
