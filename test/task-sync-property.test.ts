import fc from 'fast-check';
import type { Client } from 'pg';
import { createTestApp, type TestApp } from './support/app';
import { Mirror, openClient, serverState, syncRound, type SyncRound } from './support/sync';
import { signUpAndLogIn } from './support/users';

jest.setTimeout(600_000);

/**
 * No missed writes, under generated interleavings: writers on connections of their own create,
 * change, trash, restore and delete tasks, some inside transactions held open while others commit,
 * committed (or rolled back) in any order, while a client syncs with small pages. After every sync
 * round, the client's mirror (each page applied as it came) must be exactly what is committed.
 */
const WRITERS = 3;

let testApp: TestApp;
let writers: Client[];

beforeAll(async () => {
  testApp = await createTestApp();
  writers = await Promise.all(Array.from({ length: WRITERS }, () => openClient(testApp.database.url)));
  // A write that would wait for another writer's lock fails instead: the test drives every
  // connection from one sequence, so a wait would never end.
  for (const writer of writers) await writer.query("SET lock_timeout = '100ms'");
});

afterAll(async () => {
  await Promise.all(writers.map((writer) => writer.end()));
  await testApp.close();
});

type Write =
  | { kind: 'create'; title: string }
  | { kind: 'update'; target: number; title?: string; completed?: boolean }
  | { kind: 'trash' | 'restore' | 'delete'; target: number }
  | { kind: 'purgeTrash' };

type Command =
  | { kind: 'write'; writer: number; write: Write }
  | { kind: 'begin' | 'commit' | 'rollback'; writer: number }
  | { kind: 'sync'; limit: number }
  /** A round with a committed write between its first page and the rest: the mirror is checked after the next round. */
  | { kind: 'syncAroundWrite'; limit: number; write: Write };

const writer = fc.integer({ min: 0, max: WRITERS - 1 });
const target = fc.nat({ max: 50 });
const title = fc.string({ minLength: 1, maxLength: 12 }).filter((text) => !text.includes('\u0000'));
const write: fc.Arbitrary<Write> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('create' as const), title }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('update' as const),
      target,
      title: fc.option(title, { nil: undefined }),
      completed: fc.option(fc.boolean(), { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('trash' as const, 'restore' as const, 'delete' as const), target }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'purgeTrash' as const }) },
);
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('write' as const), writer, write }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('begin' as const, 'commit' as const), writer }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rollback' as const), writer }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), limit: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('syncAroundWrite' as const), limit: fc.integer({ min: 1, max: 3 }), write }) },
);

/** The writers' side of one run: which connections are inside a transaction, and the ids created so far. */
class Writers {
  readonly open = new Set<number>();
  readonly ids: string[] = [];

  constructor(private readonly userId: string) {}

  async run(index: number, kind: 'begin' | 'commit' | 'rollback'): Promise<void> {
    if (kind === 'begin' ? this.open.has(index) : !this.open.has(index)) return;
    await writers[index].query(kind === 'begin' ? 'BEGIN' : kind === 'commit' ? 'COMMIT' : 'ROLLBACK');
    if (kind === 'begin') this.open.add(index);
    else this.open.delete(index);
  }

  /** The write as psql or a purge would do it; one that would wait for a lock fails, and its transaction rolls back. */
  async write(index: number, write: Write): Promise<void> {
    const client = writers[index];
    const id = 'target' in write ? this.ids[write.target % Math.max(1, this.ids.length)] : undefined;
    try {
      switch (write.kind) {
        case 'create':
          this.ids.push((await client.query('INSERT INTO tasks (user_id, title) VALUES ($1, $2) RETURNING id', [this.userId, write.title])).rows[0].id);
          return;
        case 'update':
          if (id)
            await client.query('UPDATE tasks SET title = coalesce($2, title), completed = coalesce($3, completed) WHERE id = $1', [
              id,
              write.title ?? null,
              write.completed ?? null,
            ]);
          return;
        case 'trash':
          if (id) await client.query('UPDATE tasks SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL', [id]);
          return;
        case 'restore':
          if (id) await client.query('UPDATE tasks SET deleted_at = NULL WHERE id = $1 AND deleted_at IS NOT NULL', [id]);
          return;
        case 'delete':
          if (id) await client.query('DELETE FROM tasks WHERE id = $1', [id]);
          return;
        case 'purgeTrash':
          await client.query('DELETE FROM tasks WHERE user_id = $1 AND deleted_at IS NOT NULL', [this.userId]);
      }
    } catch (error) {
      if ((error as { code?: string }).code !== '55P03') throw error;
      if (this.open.has(index)) await this.run(index, 'rollback');
    }
  }

  async finish(): Promise<void> {
    for (const index of [...this.open]) await this.run(index, 'rollback');
  }
}

/** Each page names each task at most once. */
function expectEachTaskOncePerPage(round: SyncRound): void {
  for (const ids of round.pageIds) expect(new Set(ids).size).toBe(ids.length);
}

describe('sync under out-of-order commits (generated)', () => {
  it('keeps a client mirror equal to the committed tasks after every round', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 10, maxLength: 40 }), async (commands) => {
        const user = await signUpAndLogIn(testApp.app);
        const state = new Writers(user.id);
        const mirror = new Mirror();
        let token: string | undefined;
        const check = async () => expect(mirror.snapshot()).toEqual(await serverState(testApp.dataSource, user.id));
        try {
          for (const step of [...commands, { kind: 'sync', limit: 2 } as Command]) {
            if (step.kind === 'write') await state.write(step.writer, step.write);
            else if (step.kind === 'sync') {
              const round = await syncRound(testApp.app, user.auth, token, step.limit);
              expectEachTaskOncePerPage(round);
              mirror.apply(round.changes);
              token = round.token;
              await check();
            } else if (step.kind === 'syncAroundWrite') {
              const first = await syncRound(testApp.app, user.auth, token, step.limit).then(async (round) => round);
              mirror.apply(first.changes);
              // The write lands after this round's snapshot: it belongs to the next round.
              await state.write(WRITERS - 1, step.write);
              const next = await syncRound(testApp.app, user.auth, first.token, step.limit);
              mirror.apply(next.changes);
              token = next.token;
              await check();
            } else await state.run(step.writer, step.kind);
          }
        } finally {
          await state.finish();
        }
      }),
      { numRuns: Number(process.env.SYNC_PROPERTY_RUNS ?? 40) },
    );
  });

  it('converges to the committed tasks when writers and the syncing client run at once', async () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(fc.oneof(write, fc.constant('commitPoint' as const)), fc.integer({ min: 0, max: 4 })), { minLength: 5, maxLength: 15 }), {
          minLength: WRITERS,
          maxLength: WRITERS,
        }),
        fc.integer({ min: 1, max: 4 }),
        async (scripts, limit) => {
          const user = await signUpAndLogIn(testApp.app);
          const state = new Writers(user.id);
          const mirror = new Mirror();
          let token: string | undefined;
          let writing = true;
          const syncer = (async () => {
            while (writing) {
              const round = await syncRound(testApp.app, user.auth, token, limit);
              expectEachTaskOncePerPage(round);
              mirror.apply(round.changes);
              token = round.token;
            }
          })();
          try {
            await Promise.all(
              scripts.map(async (script, index) => {
                // Each writer works inside long transactions that commit at its commit points, in whatever order the writers get there.
                await state.run(index, 'begin');
                for (const [step, pause] of script) {
                  if (step === 'commitPoint') {
                    await state.run(index, 'commit');
                    await state.run(index, 'begin');
                  } else await state.write(index, step);
                  await sleep(pause);
                }
                await state.run(index, 'commit');
              }),
            );
          } finally {
            writing = false;
            await syncer;
            await state.finish();
          }
          const last = await syncRound(testApp.app, user.auth, token, limit);
          mirror.apply(last.changes);
          expect(mirror.snapshot()).toEqual(await serverState(testApp.dataSource, user.id));
        },
      ),
      { numRuns: Number(process.env.SYNC_PROPERTY_RUNS ?? 40) / 2 },
    );
  });
});
