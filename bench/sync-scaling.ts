/** The sync part of the bench: an incremental sync of a handful of changes, for users with more and more tasks. */
import { sequentialLatencies, type Latencies } from './load';

/** Changes each sync returns: a client that syncs often sees a few at a time. */
export const SYNC_CHANGES = 5;

export type SyncScaling = Array<{ tasks: number } & Latencies>;

/**
 * For each user: a token from now (the change stream's `ready` event), then SYNC_CHANGES tasks
 * patched, then the same incremental sync (which returns those changes) one request after another.
 * Undefined when the service has no sync (an older build under --against).
 */
export async function measureSyncScaling(port: number, users: Array<{ tasks: number; token: string }>, seconds: number): Promise<SyncScaling | undefined> {
  const base = `http://127.0.0.1:${port}/api/v1/tasks`;
  const rows: SyncScaling = [];
  for (const { tasks, token } of users) {
    const syncToken = await tokenFromNow(base, token);
    if (syncToken === undefined) return undefined;
    const page = (await (await fetch(`${base}?limit=${SYNC_CHANGES}`, { headers: { authorization: token } })).json()) as { data: Array<{ id: string }> };
    for (const { id } of page.data) {
      const patched = await fetch(`${base}/${id}`, {
        method: 'PATCH',
        headers: { authorization: token, 'content-type': 'application/json' },
        body: JSON.stringify({ description: `synced at ${new Date().toISOString()}` }),
      });
      if (patched.status !== 200) throw new Error(`PATCH ${id} answered ${patched.status}`);
    }
    const url = `${base}/sync?sync_token=${encodeURIComponent(syncToken)}`;
    const check = (await (await fetch(url, { headers: { authorization: token } })).json()) as { data: unknown[] };
    if (check.data.length !== page.data.length) throw new Error(`the sync returned ${check.data.length} changes, not ${page.data.length}`);
    await sequentialLatencies(url, token, 1);
    rows.push({ tasks, ...(await sequentialLatencies(url, token, seconds)) });
  }
  return rows;
}

/** The sync token of the stream's `ready` event: where the changes from now on start. */
async function tokenFromNow(base: string, authorization: string): Promise<string | undefined> {
  const abort = new AbortController();
  const response = await fetch(`${base}/stream`, { headers: { authorization, accept: 'text/event-stream' }, signal: abort.signal });
  if (response.status === 404) return undefined;
  if (response.status !== 200 || !response.body) throw new Error(`the change stream answered ${response.status}`);
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      const ready = /event: ready\nid: (\S+)\n/.exec(text);
      if (ready) return ready[1];
    }
  } finally {
    abort.abort();
  }
  throw new Error('the change stream ended before its ready event');
}
