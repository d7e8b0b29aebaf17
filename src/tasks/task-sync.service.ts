import { coarsen, SyncTokenError, type Position, type SyncCursor, type SyncTokenCodec, type TakenSnapshot } from './sync-token';
import type { VersionedTask } from './task.entity';
import { InvalidSyncToken, SyncTokenExpired } from './tasks.errors';
import type { SyncRead, SyncReadResult, TasksRepository } from './tasks.repository';

/** What a sync tells about one task: what it is now, or that it is gone for good. */
export type SyncChange = { state: 'live' | 'trashed'; id: string; task: VersionedTask } | { state: 'deleted'; id: string; userId: string; deletedAt: Date };

export interface SyncPage {
  /** Each change with the cursor right after it: a stream's event id. */
  changes: Array<{ change: SyncChange; after: SyncCursor }>;
  /** Where the next call starts. */
  next: SyncCursor;
  hasMore: boolean;
  fullSync: boolean;
}

const SECONDS_A_DAY = 86_400;

/**
 * The rules of sync (docs/sync.md). A full sync returns every task, page after page, and ends with
 * a cursor at the snapshot its first page was read with. From there, a round of pages returns the
 * changes that snapshot could not see and the round's first read could: its own snapshot, which is
 * where the next round starts. So every committed change is returned by the first round that
 * starts after it commits, whatever the order in which transactions started and committed.
 * A cursor whose changes may no longer all be kept (tombstones purged since, or older than their
 * retention) is refused: only a full sync can be trusted then.
 */
export class TaskSyncService {
  constructor(
    private readonly tasks: TasksRepository,
    private readonly tokens: SyncTokenCodec,
    private readonly retentionDays: number,
  ) {}

  /** The cursor a client's token stands for; undefined, a full sync, for none or `*`. */
  cursorOf(userId: string, token: string | undefined): SyncCursor | undefined {
    if (token === undefined || token === '*') return undefined;
    try {
      return this.tokens.decode(token, userId);
    } catch (error) {
      if (error instanceof SyncTokenError) throw new InvalidSyncToken(error.reason);
      throw error;
    }
  }

  tokenOf(userId: string, cursor: SyncCursor): string {
    return this.tokens.encode(userId, cursor);
  }

  /** Where the changes from now on start (a stream opened without a token). */
  async now(): Promise<SyncCursor> {
    const { taken } = await this.tasks.currentSnapshot();
    return { kind: 'changes', lower: coarsened(taken) };
  }

  /** The page after `cursor` (a full sync's first page without one): at most `limit` changes. */
  page(userId: string, cursor: SyncCursor | undefined, limit: number): Promise<SyncPage> {
    return cursor === undefined || cursor.kind === 'full' ? this.fullPage(userId, cursor, limit) : this.changesPage(userId, cursor, limit);
  }

  private async fullPage(userId: string, cursor: Extract<SyncCursor, { kind: 'full' }> | undefined, limit: number): Promise<SyncPage> {
    const read = await this.tasks.readAll(userId, cursor?.lower.snapshot, cursor?.after, limit + 1);
    if (cursor) this.checkKept(cursor.lower, read);
    const lower = cursor?.lower ?? coarsened(read.taken);
    return paginate(userId, read.changes, limit, {
      fullSync: true,
      midRound: (after) => ({ kind: 'full', lower, after }),
      roundDone: { kind: 'changes', lower },
    });
  }

  private async changesPage(userId: string, cursor: Extract<SyncCursor, { kind: 'changes' }>, limit: number): Promise<SyncPage> {
    const read = await this.tasks.readChanges(userId, cursor.lower.snapshot, cursor.upper?.snapshot, cursor.after, limit + 1);
    this.checkKept(cursor.lower, read);
    const upper = cursor.upper ?? coarsened(read.taken);
    return paginate(userId, read.changes, limit, {
      fullSync: false,
      midRound: (after) => ({ kind: 'changes', lower: cursor.lower, upper, after }),
      roundDone: { kind: 'changes', lower: upper },
    });
  }

  /**
   * The tombstones a cursor needs are those of transactions its lower snapshot could not see. When a
   * purge since may have taken some (checked in the same statement as the read), or the snapshot is
   * older than tombstones are kept, deletions may be lost: only a full sync can be trusted.
   */
  private checkKept(lower: TakenSnapshot, read: SyncReadResult): void {
    if (read.tombstonesGone || read.taken.at - lower.at > this.retentionDays * SECONDS_A_DAY) throw new SyncTokenExpired();
  }
}

function coarsened(taken: TakenSnapshot): TakenSnapshot {
  return { snapshot: coarsen(taken.snapshot), at: taken.at };
}

interface Paging {
  fullSync: boolean;
  /** The cursor after a position, while the round goes on. */
  midRound(after: Position): SyncCursor;
  /** The cursor once the round's last change is read. */
  roundDone: SyncCursor;
}

/** The first `limit` of `reads` (one more was read, to know whether there is more), each task once. */
function paginate(userId: string, reads: SyncRead[], limit: number, paging: Paging): SyncPage {
  const hasMore = reads.length > limit;
  const page = reads.slice(0, limit);
  // A task deleted, created again with its id and deleted again has two tombstones: the latest counts.
  const latest = new Map(page.map((read, index) => [read.position.id, index]));
  const changes: SyncPage['changes'] = [];
  page.forEach((read, index) => {
    if (latest.get(read.position.id) !== index) return;
    const roundEnds = index === page.length - 1 && !hasMore;
    changes.push({ change: changeOf(userId, read), after: roundEnds ? paging.roundDone : paging.midRound(read.position) });
  });
  const next = hasMore ? paging.midRound(page[page.length - 1].position) : paging.roundDone;
  return { changes, next, hasMore, fullSync: paging.fullSync };
}

function changeOf(userId: string, read: SyncRead): SyncChange {
  if (read.task) return { state: read.task.deletedAt ? 'trashed' : 'live', id: read.task.id, task: read.task };
  return { state: 'deleted', id: read.position.id, userId, deletedAt: read.deletedAt! };
}
