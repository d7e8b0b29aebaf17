/** One Server-Sent Event as a client sees it; comments (heartbeats) are kept too, as `comment`. */
export interface SseEvent {
  event: string;
  id?: string;
  data?: unknown;
  comment?: string;
}

export interface EventStreamClient {
  status: number;
  headers: Headers;
  /** The JSON body of a response that is not a stream (an error). */
  body?: unknown;
  /** Every event received so far. */
  events: SseEvent[];
  /** The next event (after those already taken by next()) that matches, within `timeoutMs`. */
  next(matches?: (event: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/**
 * Opens GET `url` as an event stream with fetch, and parses what arrives (the text/event-stream
 * format: fields per line, events separated by a blank line, `:` lines are comments).
 */
export async function openEventStream(url: string, headers: Record<string, string>): Promise<EventStreamClient> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  let taken = 0;
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((wake) => wake());
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
      events,
      next: () => Promise.reject(new Error(`not a stream: ${response.status} ${text}`)),
      ended: Promise.resolve(),
      close: () => abort.abort(),
    };
  }
  const ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let split = buffer.indexOf('\n\n'); split >= 0; split = buffer.indexOf('\n\n')) {
          events.push(parseEvent(buffer.slice(0, split)));
          buffer = buffer.slice(split + 2);
          notify();
        }
      }
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    } finally {
      notify();
    }
  })();
  let finished = false;
  // A connection cut without an end (the server was killed) rejects `ended` for whoever awaits it; it is still the end.
  const over = () => (finished = true);
  void ended.then(over, over);
  return {
    status: response.status,
    headers: response.headers,
    events,
    ended,
    close: () => abort.abort(),
    next(matches = () => true, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const look = () => {
          for (; taken < events.length; taken += 1) {
            if (matches(events[taken])) {
              const found = events[taken];
              taken += 1;
              waiters.delete(look);
              clearTimeout(timer);
              resolve(found);
              return;
            }
          }
          if (finished) {
            waiters.delete(look);
            clearTimeout(timer);
            reject(new Error(`the stream ended; events: ${JSON.stringify(events)}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(look);
          reject(new Error(`no matching event within ${timeoutMs} ms; events: ${JSON.stringify(events)}`));
        }, timeoutMs);
        waiters.add(look);
        look();
      });
    },
  };
}

function parseEvent(block: string): SseEvent {
  const event: SseEvent = { event: 'message' };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) return { event: 'comment', comment: line.slice(1).trim() };
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event.event = value;
    else if (field === 'id') event.id = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length) event.data = JSON.parse(data.join('\n'));
  return event;
}

/** The events that are changes ({id, state}), as [task id, state]. */
export const changesIn = (events: SseEvent[]) =>
  events.filter((event) => event.event === 'message').map((event) => [(event.data as { id: string }).id, (event.data as { state: string }).state]);
