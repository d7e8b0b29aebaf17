import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { noneMatchHits, parseIfNoneMatch, weakEtagOf } from './preconditions';
import { SECURITY_HEADER_NAMES, SECURITY_HEADERS } from './security-headers';

export type ReplyHeaders = Record<string, string>;

export interface ReplyInit {
  /** The route's success status unless given. */
  status?: number;
  body?: unknown;
  headers?: ReplyHeaders;
  /** JSON unless given; with a content type the body is sent as text, as it is. */
  contentType?: string;
}

/** What a handler returns when a plain body is not enough: its own status, headers (ETag, Location) or content type. */
export class Reply {
  readonly status: number | undefined;
  readonly body: unknown;
  readonly headers: ReplyHeaders | undefined;
  readonly contentType: string | undefined;

  constructor(init: ReplyInit) {
    this.status = init.status;
    this.body = init.body;
    this.headers = init.headers;
    this.contentType = init.contentType;
  }
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** SECURITY_HEADERS as `writeHead` takes them: name, value, name, value… */
const SECURITY_FIELDS: readonly string[] = SECURITY_HEADERS.flat();

/**
 * A GET that may be answered 304: with `etag: 'body'` the ETag is a weak one made of the body
 * written; with `'handler'`, the ETag header the handler set.
 */
export interface Revalidation {
  etag: 'body' | 'handler';
  /** The request's If-None-Match header, as sent. */
  ifNoneMatch: string | undefined;
}

/**
 * Writes a response. Every response of the routes goes out here: handlers' results, the error
 * handler's answers and the request timeout's 503. Written directly rather than through res.json:
 * Express's send() also checks freshness and content types that never apply to these responses,
 * on the hottest path of the service. All its headers go out in one `writeHead`: the security
 * headers, the request id, the handler's, then those describing the body (a header set earlier with
 * `setHeader`, as the CORS middleware does, is kept; one of the same name given here replaces it).
 * Once a response has gone out (the request timed out while its handler ran) nothing more can be
 * said to the client, so a later one is dropped.
 */
export function writeResponse(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers?: ReplyHeaders,
  contentType?: string,
  revalidation?: Revalidation,
): void {
  if (res.headersSent) return;
  const fields = headerFields(res, headers);
  if (body === undefined) {
    res.writeHead(status, fields).end();
    return;
  }
  const text = contentType === undefined ? JSON.stringify(body) : String(body);
  if (revalidation && notModified(fields, text, revalidation)) {
    // 304: the ETag (and the other headers) without the body or anything describing it.
    res.writeHead(304, fields).end();
    return;
  }
  fields.push('Content-Type', contentType ?? JSON_CONTENT_TYPE, 'Content-Length', String(Buffer.byteLength(text)));
  res.writeHead(status, fields).end(text);
}

/**
 * For responses the writer does not write (static files): the headers it would give them (the
 * security headers and the request id), set on the response before their own writer runs.
 */
export function writerHeaders(): RequestHandler {
  return (_req, res, next) => {
    const fields = headerFields(res, undefined);
    for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i], fields[i + 1]);
    next();
  };
}

/** The security headers, the request id (see the request lifecycle) and `headers`, as `writeHead` takes them. */
function headerFields(res: ServerResponse, headers: ReplyHeaders | undefined): string[] {
  const fields = SECURITY_FIELDS.slice();
  const requestId = (res as { locals?: { requestId?: unknown } }).locals?.requestId;
  if (typeof requestId === 'string') fields.push('X-Request-Id', requestId);
  if (headers) {
    for (const name in headers) {
      const replaced = SECURITY_HEADER_NAMES.has(name.toLowerCase()) ? fieldIndex(fields, name) : -1;
      if (replaced === -1) fields.push(name, headers[name]);
      else fields[replaced + 1] = headers[name];
    }
  }
  return fields;
}

/** Where the header `name` is in `fields` (any case), or -1. */
function fieldIndex(fields: string[], name: string): number {
  const wanted = name.toLowerCase();
  for (let i = 0; i < fields.length; i += 2) if (fields[i].toLowerCase() === wanted) return i;
  return -1;
}

/** Adds a body's weak ETag if asked to, and says whether If-None-Match matches the response's ETag. */
function notModified(fields: string[], text: string, { etag, ifNoneMatch }: Revalidation): boolean {
  if (etag === 'body') fields.push('ETag', weakEtagOf(text));
  if (ifNoneMatch === undefined) return false;
  const at = fieldIndex(fields, 'ETag');
  const condition = parseIfNoneMatch(ifNoneMatch);
  return at !== -1 && condition !== undefined && noneMatchHits(condition, fields[at + 1]);
}

/** One Server-Sent Event: `data` is sent as JSON on one line. */
export interface ServerSentEvent {
  event?: string;
  id?: string;
  data: unknown;
}

/** What a streaming route's handler returns: the response opens as `text/event-stream` and `start` writes it from then on. */
export class EventStream {
  constructor(readonly start: (writer: EventStreamWriter) => void) {}
}

/** Writes Server-Sent Events to one open response. */
export class EventStreamWriter {
  constructor(private readonly res: ServerResponse) {}

  /** False once the stream has ended, or the client has gone. */
  get open(): boolean {
    return !this.res.writableEnded && !this.res.closed;
  }

  /** Bytes written and not yet taken by the client: what a slow reader leaves in memory. */
  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  send({ event, id, data }: ServerSentEvent): void {
    if (!this.open) return;
    this.res.write(`${event ? `event: ${event}\n` : ''}${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
  }

  /** A comment line, which clients ignore: a heartbeat that keeps proxies from closing an idle connection. */
  comment(text: string): void {
    if (this.open) this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.open) this.res.end();
  }

  /** Runs when the response is over: ended here, or the client went away (maybe before the stream started). */
  onClose(listener: () => void): void {
    if (this.res.closed) queueMicrotask(listener);
    else this.res.once('close', listener);
  }
}

/**
 * Opens an event stream on a response: 200, not cached nor buffered by proxies, headers sent at
 * once. The connection closes with the stream (a client reconnects on a new one anyway), so a
 * server shutting down has no idle connection left behind once it ends its streams.
 */
export function startEventStream(res: ServerResponse, stream: EventStream): void {
  if (!res.closed) {
    res.writeHead(200, [
      ...headerFields(res, undefined),
      'Content-Type',
      'text/event-stream; charset=utf-8',
      'Cache-Control',
      'no-cache',
      'X-Accel-Buffering',
      'no',
      'Connection',
      'close',
    ]);
    res.flushHeaders();
  }
  stream.start(new EventStreamWriter(res));
}
