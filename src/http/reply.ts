import type { ServerResponse } from 'node:http';

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

/**
 * Writes a response. Every response of the routes goes out here: handlers' results, the error
 * handler's answers and the request timeout's 503. Written directly rather than through res.json:
 * Express's send() also checks freshness and content types that never apply to these responses,
 * on the hottest path of the service. Once a response has gone out (the request timed out while
 * its handler ran) nothing more can be said to the client, so a later one is dropped.
 */
export function writeResponse(res: ServerResponse, status: number, body?: unknown, headers?: ReplyHeaders, contentType?: string): void {
  if (res.headersSent) return;
  res.statusCode = status;
  if (headers) for (const name in headers) res.setHeader(name, headers[name]);
  if (body === undefined) {
    res.end();
    return;
  }
  const text = contentType === undefined ? JSON.stringify(body) : String(body);
  res.setHeader('Content-Type', contentType ?? JSON_CONTENT_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
