import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** From the first byte sent to the server closing the connection. */
  elapsedMs: number;
}

/**
 * Sends `parts` over a plain TCP connection, one every `intervalMs`, as a client that ignores HTTP's
 * rules would, and reads what comes back until the server closes the connection (or `timeoutMs`).
 */
export function rawExchange(port: number, parts: Array<string | Buffer>, { intervalMs = 0, timeoutMs = 10_000 } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let started = 0;
    let next = 0;
    let timer: NodeJS.Timeout | undefined;
    const sendNext = () => {
      if (next >= parts.length || socket.destroyed) return;
      socket.write(parts[next++]);
      if (next < parts.length) timer = setTimeout(sendNext, intervalMs);
    };
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => {
      started = Date.now();
      sendNext();
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    // The server may reset a connection it refused while we were still sending; what it answered first still counts.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(giveUp);
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no HTTP response, got ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
      const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4), elapsedMs: Date.now() - started });
    });
  });
}
