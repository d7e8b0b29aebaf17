import type { ListenerIdentity, NotificationListener } from '../db/notification-listener';
import { ServiceUnavailable } from '../errors';
import type { Logger } from '../logger';
import type { SyncCursor } from './sync-token';
import type { SyncPage, TaskSyncService } from './task-sync.service';
import { SyncTokenExpired, TooManyStreams } from './tasks.errors';
import type { TasksRepository } from './tasks.repository';

/** Where a stream's events go: the route hands in the HTTP layer's event-stream writer. */
export interface StreamSink {
  readonly open: boolean;
  readonly bufferedBytes: number;
  send(event: { event?: string; id?: string; data: unknown }): void;
  comment(text: string): void;
  end(): void;
  onClose(listener: () => void): void;
}

/** The caller of a stream: its user and the session its access token named. */
export interface StreamOwner {
  userId: string;
  sessionId: string;
}

export interface StreamOptions {
  maxPerUser: number;
  heartbeatMs: number;
  /** Changes read per statement while catching up. */
  pageSize: number;
}

/** Why a stream ended, in its last event: `revoked` and `expired` mean that reconnecting as before will not work. */
export type EndReason = 'shutdown' | 'revoked' | 'expired' | 'slot_lost' | 'too_slow';

/** A client that reads slower than changes come is cut off past this much unsent data; it resumes with Last-Event-ID. */
const MAX_BUFFERED_BYTES = 1 << 20;

const LISTENER_BACKOFF = { minBackoffMs: 100, maxBackoffMs: 5000 };

/**
 * The change streams of this process (docs/sync.md). Each stream owns a slot in task_streams, so a
 * user has at most `maxPerUser` across every process; the triggers on tasks NOTIFY `task_changes`
 * for users holding a slot. One dedicated connection per process LISTENs, and a notification makes
 * each of that user's streams run the sync from its own position, so what a stream sends is what
 * sync returns: nothing is buffered on the side, and a client resumes anywhere with its last event
 * id. Every `heartbeatMs` each stream gets a comment, its session is checked again, and it catches
 * up even without a notification (a writer that looked for slots just before this one was taken, a
 * notification lost while the connection was down).
 */
export class TaskStreamsService {
  private readonly byUser = new Map<string, Set<TaskStream>>();
  private listener: Promise<NotificationListener> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly tasks: TasksRepository,
    private readonly sync: TaskSyncService,
    private readonly sessionIsLive: (owner: StreamOwner) => Promise<boolean>,
    private readonly options: StreamOptions,
    private readonly logger: Logger,
  ) {}

  get openCount(): number {
    let count = 0;
    for (const streams of this.byUser.values()) count += streams.size;
    return count;
  }

  /**
   * Checks the token, takes a slot and reads the first page of what the client missed, so that
   * every refusal (422, 429, 410, 503) comes before the stream starts. Attach the result to a sink.
   */
  async open(owner: StreamOwner, token: string | undefined): Promise<TaskStream> {
    if (this.stopped) throw new ServiceUnavailable('The service is shutting down');
    const cursor = this.sync.cursorOf(owner.userId, token);
    const listener = await this.listening();
    if (!listener.identity) throw new ServiceUnavailable('Change notifications are reconnecting');
    const slot = await this.tasks.claimStreamSlot(owner.userId, this.options.maxPerUser, listener.identity);
    if (slot === undefined) throw new TooManyStreams(this.options.maxPerUser);
    try {
      const missed = cursor ? await this.sync.page(owner.userId, cursor, this.options.pageSize) : undefined;
      return new TaskStream(this, owner, slot, cursor ?? (await this.sync.now()), missed);
    } catch (error) {
      await this.release(owner.userId, slot);
      throw error;
    }
  }

  /** SIGTERM: every stream ends now with a last event (clients reconnect elsewhere), slots are released, the listener closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    for (const stream of this.streams()) stream.end('shutdown');
    const listener = await this.listener?.catch(() => undefined);
    if (listener?.identity) await this.tasks.releaseUnusedStreamSlots(listener.identity, []).catch((error) => this.warn(error, 'releasing stream slots'));
    await listener?.close();
  }

  /* What the streams call. */

  readonly pageOf = (owner: StreamOwner, cursor: SyncCursor): Promise<SyncPage> => this.sync.page(owner.userId, cursor, this.options.pageSize);
  readonly tokenOf = (owner: StreamOwner, cursor: SyncCursor): string => this.sync.tokenOf(owner.userId, cursor);

  register(stream: TaskStream): boolean {
    if (this.stopped) return false;
    const streams = this.byUser.get(stream.owner.userId) ?? new Set();
    streams.add(stream);
    this.byUser.set(stream.owner.userId, streams);
    this.heartbeat ??= setInterval(() => void this.beat(), this.options.heartbeatMs).unref();
    return true;
  }

  unregister(stream: TaskStream): void {
    const streams = this.byUser.get(stream.owner.userId);
    streams?.delete(stream);
    if (streams?.size === 0) this.byUser.delete(stream.owner.userId);
    void this.release(stream.owner.userId, stream.slot);
    if (this.byUser.size === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  warn(error: unknown, doing: string): void {
    this.logger.warn({ err: error }, `change streams: failed ${doing}`);
  }

  /* Inside. */

  private *streams(): Iterable<TaskStream> {
    for (const streams of this.byUser.values()) yield* [...streams];
  }

  /** The one listening connection of this process, opened with the first stream. */
  private listening(): Promise<NotificationListener> {
    this.listener ??= this.startListening().catch((error) => {
      this.listener = undefined;
      throw error;
    });
    return this.listener;
  }

  private async startListening(): Promise<NotificationListener> {
    const listener = this.tasks.listenForChanges(
      {
        tasksChanged: (userId) => {
          for (const stream of this.byUser.get(userId) ?? []) void stream.catchUp();
        },
        sessionRevoked: (sessionId) => {
          for (const stream of this.streams()) if (stream.owner.sessionId === sessionId) stream.end('revoked');
        },
        connected: (identity, previous) => this.reconnected(identity, previous),
        failed: (error) => this.warn(error, 'listening for changes (reconnecting)'),
      },
      LISTENER_BACKOFF,
    );
    await listener.start();
    return listener;
  }

  /**
   * A new listening connection after one was lost: the slots move to it (a slot another process took
   * over meanwhile ends its stream), and every stream catches up on what it did not hear.
   */
  private async reconnected(identity: ListenerIdentity, previous: ListenerIdentity | undefined): Promise<void> {
    if (!previous) return;
    const kept = new Set((await this.tasks.moveStreamSlots(previous, identity)).map(({ userId, slot }) => `${userId}/${slot}`));
    for (const stream of this.streams()) {
      if (!kept.has(`${stream.owner.userId}/${stream.slot}`)) stream.end('slot_lost');
      else void stream.catchUp();
    }
    this.logger.info(`change streams: listening again; ${kept.size} streams kept`);
  }

  private async beat(): Promise<void> {
    const listener = await this.listener?.catch(() => undefined);
    await listener?.ping();
    const streams = [...this.streams()];
    for (const stream of streams) stream.sink?.comment('heartbeat');
    await Promise.all(
      streams.map(async (stream) => {
        try {
          if (!(await this.sessionIsLive(stream.owner))) stream.end('revoked');
          else await stream.catchUp();
        } catch (error) {
          this.warn(error, 'checking a stream');
        }
      }),
    );
    // Slots whose release failed (the database was away) are not left taken.
    const identity = listener?.identity;
    if (identity) {
      const inUse = [...this.streams()].map((stream) => ({ userId: stream.owner.userId, slot: stream.slot }));
      await this.tasks.releaseUnusedStreamSlots(identity, inUse).catch((error) => this.warn(error, 'releasing unused stream slots'));
    }
  }

  private async release(userId: string, slot: number): Promise<void> {
    const identity = (await this.listener?.catch(() => undefined))?.identity;
    // Without a connection the row stays; the next heartbeat after reconnecting releases it.
    if (identity) await this.tasks.releaseStreamSlot(userId, slot, identity).catch((error) => this.warn(error, 'releasing a stream slot'));
  }
}

/**
 * One open stream: its position (a sync cursor), and the sink it writes to. Catching up runs one
 * at a time per stream; a notification that comes meanwhile makes it run once more.
 */
export class TaskStream {
  sink: StreamSink | undefined;
  private running = false;
  private again = false;
  private ended = false;

  constructor(
    private readonly streams: TaskStreamsService,
    readonly owner: StreamOwner,
    readonly slot: number,
    private cursor: SyncCursor,
    /** The first page of what the client missed, read before the stream was answered. */
    private missed?: SyncPage,
  ) {}

  /** Starts writing: what the client missed, then `ready` with the position it is at, then an event per change as they come. */
  attach(sink: StreamSink): void {
    this.sink = sink;
    sink.onClose(() => this.closed());
    if (!this.streams.register(this)) {
      this.end('shutdown');
      return;
    }
    if (this.missed) this.write(this.missed);
    this.missed = undefined;
    // Also what committed between taking the slot and registering, which no notification reached.
    void this.catchUp().then(() => {
      const token = this.streams.tokenOf(this.owner, this.cursor);
      if (!this.ended) sink.send({ event: 'ready', id: token, data: { sync_token: token } });
    });
  }

  /** Sends what changed since the stream's position, page after page. */
  async catchUp(): Promise<void> {
    if (this.ended) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        let page: SyncPage;
        do {
          page = await this.streams.pageOf(this.owner, this.cursor);
          if (this.ended) return;
          this.write(page);
        } while (page.hasMore && !this.ended);
      } while (this.again && !this.ended);
    } catch (error) {
      if (error instanceof SyncTokenExpired) this.end('expired');
      else this.streams.warn(error, 'reading changes for a stream');
    } finally {
      this.running = false;
    }
  }

  /** Ends the stream with a last event saying why. */
  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    this.sink?.send({ event: 'end', data: { reason } });
    this.sink?.end();
  }

  private write(page: SyncPage): void {
    const sink = this.sink!;
    for (const { change, after } of page.changes) sink.send({ id: this.streams.tokenOf(this.owner, after), data: { id: change.id, state: change.state } });
    this.cursor = page.next;
    if (sink.bufferedBytes > MAX_BUFFERED_BYTES) this.end('too_slow');
  }

  private closed(): void {
    this.ended = true;
    this.streams.unregister(this);
  }
}
