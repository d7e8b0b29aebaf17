import type { Client } from 'pg';

/** The backend a listening connection runs on: its pid, and its start time (text, to the microsecond), which tell it apart from a later backend with the same pid. */
export interface ListenerIdentity {
  pid: number;
  startedAt: string;
}

export interface NotificationHandlers {
  notification(channel: string, payload: string): void;
  /**
   * Called after each connection, once LISTEN is in place; `previous` is the connection before a
   * reconnect. Notifications sent while no connection listened are lost: catch up here.
   */
  connected(identity: ListenerIdentity, previous: ListenerIdentity | undefined): Promise<void>;
  /** The connection broke, or a reconnection failed (it is retried). */
  failed(error: unknown): void;
}

export interface ListenerOptions {
  minBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * One dedicated connection that LISTENs on some channels, outside the pool (a pooled connection
 * goes back to the pool, and LISTEN with it). When it breaks it reconnects, waiting twice as long
 * after each failure (up to maxBackoffMs, with jitter so that processes do not reconnect in step).
 * Database.listen() creates it; `connect` opens the connection.
 */
export class NotificationListener {
  private client: Client | undefined;
  private current: ListenerIdentity | undefined;
  private previous: ListenerIdentity | undefined;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly connect: () => Promise<Client>,
    private readonly channels: string[],
    private readonly handlers: NotificationHandlers,
    private readonly options: ListenerOptions,
  ) {}

  /** Connects and listens; rejects when that fails (reconnection is only for a connection that worked once). */
  async start(): Promise<ListenerIdentity> {
    await this.open();
    return this.current!;
  }

  /** The backend listening now; undefined while reconnecting. */
  get identity(): ListenerIdentity | undefined {
    return this.current;
  }

  /** Checks the connection with a query, so a connection that died silently is noticed and replaced. */
  async ping(): Promise<void> {
    try {
      await this.client?.query('SELECT 1');
    } catch (error) {
      this.lost(this.client, error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    this.current = undefined;
    await client?.end().catch(() => undefined);
  }

  private async open(): Promise<void> {
    const client = await this.connect();
    try {
      client.on('notification', ({ channel, payload }) => this.handlers.notification(channel, payload ?? ''));
      client.on('error', (error) => this.lost(client, error));
      client.on('end', () => this.lost(client, new Error('the listening connection ended')));
      for (const channel of this.channels) await client.query(`LISTEN ${channel}`);
      const { rows } = await client.query<{ pid: number; startedAt: string }>(
        'SELECT pid, backend_start::text AS "startedAt" FROM pg_stat_activity WHERE pid = pg_backend_pid()',
      );
      if (this.closed) throw new Error('the listener was closed');
      this.client = client;
      this.current = rows[0];
    } catch (error) {
      client.removeAllListeners();
      await client.end().catch(() => undefined);
      throw error;
    }
    this.failures = 0;
    // Catching up is the handler's business: its failure must not cost the connection.
    await this.handlers.connected(this.current, this.previous).catch((error) => this.handlers.failed(error));
  }

  private lost(client: Client | undefined, error: unknown): void {
    if (this.closed || !client || client !== this.client) return;
    client.removeAllListeners();
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    this.client = undefined;
    this.previous = this.current ?? this.previous;
    this.current = undefined;
    this.handlers.failed(error);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = Math.min(this.options.maxBackoffMs, this.options.minBackoffMs * 2 ** this.failures) * (0.5 + Math.random() / 2);
    this.failures += 1;
    this.retry = setTimeout(() => {
      this.open().catch((error) => {
        if (this.closed) return;
        this.handlers.failed(error);
        this.scheduleReconnect();
      });
    }, delay);
    this.retry.unref();
  }
}
