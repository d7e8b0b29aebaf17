import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config } from '../config';
import type { Logger } from '../logger';

/** How often Node looks for connections past their timeouts; Node's own default (30 s) would let a slow sender stay that much longer. */
const MAX_CHECKING_INTERVAL_MS = 1000;

/**
 * The HTTP server the service runs, with everything that is decided before Express sees a request:
 * time limits on receiving a request, and the answers Node's parser gives by itself, which come in
 * the contract's `{"detail": …}` shape instead of an empty body. The tests build their servers
 * here too, so they exercise what production runs.
 */
export function createHttpServer(handler: http.RequestListener, config: Pick<Config, 'requestTimeoutMs' | 'headersTimeoutMs'>, logger: Logger): http.Server {
  const server = http.createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(MAX_CHECKING_INTERVAL_MS, Math.ceil(config.headersTimeoutMs / 4)),
      // Node would answer a missing Host with an empty 400; the handler below answers it in JSON.
      requireHostHeader: false,
    },
    (req, res) => {
      if (req.httpVersion === '1.1' && req.headers.host === undefined) {
        respond(res, 400, 'Bad Request: an HTTP/1.1 request needs a Host header', logger);
        return;
      }
      handler(req, res);
    },
  );
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket, logger));
  // An Expect other than 100-continue; without this listener Node answers an empty 417.
  server.on('checkExpectation', (_req: http.IncomingMessage, res: http.ServerResponse) =>
    respond(res, 417, 'Expectation Failed: only "Expect: 100-continue" is supported', logger),
  );
  return server;
}

/** The statuses Node's own clientError answer uses, with the contract's detail. */
function statusFor(error: NodeJS.ErrnoException & { reason?: string }): { status: number; detail: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, detail: 'Request header fields too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, detail: 'Chunk extensions too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, detail: 'Request timeout: the request was not received in time' };
    default:
      // llhttp's reason ("Invalid header value char", …) says what was wrong, and holds none of the input.
      return { status: 400, detail: `Bad Request: malformed HTTP request${error.reason ? ` (${error.reason})` : ''}` };
  }
}

function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, logger: Logger): void {
  // A response already on its way (a pipelined request went wrong after it) must not be corrupted by a second one.
  const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const { status, detail } = statusFor(error);
  logger.info({ status, code: error.code }, `HTTP request refused before routing: ${status} ${detail}`);
  const body = JSON.stringify({ detail });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

function respond(res: http.ServerResponse, status: number, detail: string, logger: Logger): void {
  logger.info({ status }, `HTTP request refused before routing: ${status} ${detail}`);
  const body = JSON.stringify({ detail });
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' }).end(body);
}
