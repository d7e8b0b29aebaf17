/**
 * Keeps a local copy of the caller's tasks (live and trashed) up to date: one sync to begin with
 * (every task), then the stream of changes; each event says that something changed and carries
 * the sync token after it, and the mirror fetches what changed with /tasks/sync from its own token.
 * A stream that breaks is opened again after the last token (Last-Event-ID), so nothing is missed;
 * a token too old for the service (410) starts a full sync over.
 *
 *   TODO_URL=http://localhost:8000 TODO_USERNAME=alice TODO_PASSWORD='…' node -r ts-node/register/transpile-only clients/typescript/examples/mirror.ts
 */
import { createTodoClient, logIn, type Schemas, type TaskChange, type TodoClient } from '../src/client';

export type MirroredTask = Schemas['TaskChange'];

export class TaskMirror {
  /** Every task the caller has, live or trashed, by id, as the service last said. */
  readonly tasks = new Map<string, MirroredTask>();
  /** Where the next sync starts; undefined before the first. */
  token: string | undefined;
  private stopped = false;
  private abort = new AbortController();

  constructor(
    private readonly client: TodoClient,
    /** Called after each round of changes is applied, with the changes of that round. */
    private readonly onChange: (changes: TaskChange[]) => void = () => {},
  ) {}

  /** Fetches every change since the token, page by page, and applies it; a full sync first, or when the token is gone (410). */
  async sync(): Promise<TaskChange[]> {
    const round: TaskChange[] = [];
    for (let more = true; more;) {
      const { data, error, response } = await this.client.GET('/api/v1/tasks/sync', { params: { query: { sync_token: this.token, limit: 500 } } });
      if (response.status === 410) {
        // The service no longer has what this token needs: start over with everything.
        this.token = undefined;
        this.tasks.clear();
        continue;
      }
      if (!data) throw new Error(`sync failed: ${response.status} ${JSON.stringify(error)}`);
      // A full sync lists every task: whatever it does not list is gone.
      if (data.full_sync && this.token === undefined) this.tasks.clear();
      for (const change of data.data) this.apply(change);
      round.push(...data.data);
      this.token = data.sync_token;
      more = data.has_more;
    }
    if (round.length) this.onChange(round);
    return round;
  }

  /** Syncs, then follows the stream until stop(): a sync per event, and the stream opened again if it ends. */
  async follow(): Promise<void> {
    await this.sync();
    while (!this.stopped) {
      try {
        await this.readStream();
      } catch (error) {
        if (this.stopped) return;
        console.warn(`stream: ${(error as Error).message}; opening it again`);
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private apply(change: TaskChange): void {
    if (change.state === 'deleted') this.tasks.delete(change.id);
    else this.tasks.set(change.id, change);
  }

  private async readStream(): Promise<void> {
    const { response } = await this.client.GET('/api/v1/tasks/stream', {
      params: { query: { sync_token: this.token } },
      parseAs: 'stream',
      signal: this.abort.signal,
    });
    if (response.status === 410) {
      this.token = undefined;
      await this.sync();
      return;
    }
    if (!response.ok || !response.body) throw new Error(`stream refused: ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        // A change (`data:` without an `event:` name): fetch what changed since our token. `ready`, `end` and heartbeats need nothing.
        const lines = event.split('\n');
        if (lines.some((line) => line.startsWith('data:')) && !lines.some((line) => line.startsWith('event:'))) await this.sync();
      }
    }
  }
}

/** Run directly: logs in, mirrors, and prints a line per round of changes until Ctrl-C. */
async function main(): Promise<void> {
  const { TODO_URL = 'http://localhost:8000', TODO_USERNAME, TODO_PASSWORD } = process.env;
  if (!TODO_USERNAME || !TODO_PASSWORD) throw new Error('set TODO_USERNAME and TODO_PASSWORD (and TODO_URL)');
  const session: { accessToken?: string } = {};
  const client = createTodoClient({ baseUrl: TODO_URL, accessToken: () => session.accessToken });
  session.accessToken = (await logIn(client, TODO_USERNAME, TODO_PASSWORD)).access_token;
  const mirror = new TaskMirror(client, (changes) => {
    const states = changes.map((change) => `${change.id} ${change.state}`).join(', ');
    console.log(`${mirror.tasks.size} tasks; changed: ${states}`);
  });
  process.once('SIGINT', () => mirror.stop());
  await mirror.follow();
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
