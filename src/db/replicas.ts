/*
 * What the service knows about its read replicas, from PostgreSQL's own facts, and the rule that
 * picks one for a read. No connections here: src/db/database.ts polls and queries, this decides.
 *
 * Positions are WAL locations as byte offsets (`pg_lsn - '0/0'`), BigInts: they pass 2^53 after a
 * few years of WAL on a busy primary.
 *
 * - A standby's `pg_last_wal_replay_lsn()` is the end of the last WAL record it has applied, and it
 *   applies records in WAL order. A transaction whose commit record ends at or before that position
 *   is visible there. The value polled a moment ago can only have grown since, so it is a lower
 *   bound: "polled replay >= position" stays true when the read runs.
 * - A caller's last write is remembered as the primary's `pg_current_wal_insert_lsn()` read after
 *   the write committed (sessions.last_write_lsn): at or past the end of its commit record.
 * - So a replica whose polled replay position is at or past the caller's has the caller's writes.
 */

/** What a standby answered to the monitor's poll. */
export interface StandbyPoll {
  /** pg_is_in_recovery(): false for a server that is not (or no longer) a standby. */
  standby: boolean;
  /** pg_last_wal_replay_lsn(), as bytes; null when it has replayed nothing yet. */
  replayed: bigint | null;
  /** now() - pg_last_xact_replay_timestamp() in seconds, on the standby's clock; null before its first replayed commit. */
  replayAgeSeconds: number | null;
}

export type ReplicaState = 'ok' | 'lagging' | 'down';

/** One replica as /ready and /metrics show it. */
export interface ReplicaStatus {
  name: string;
  state: ReplicaState;
  /** How old its data may be, in seconds (to the millisecond); null while down or not known. */
  lagSeconds: number | null;
  /** WAL bytes the primary has written that it has not replayed; null while down or not known. */
  lagBytes: number | null;
}

/** Parses a WAL position from the database (a decimal string of bytes); null stays null. */
export function walPosition(text: string | null | undefined): bigint | null {
  return text === null || text === undefined ? null : BigInt(text);
}

/**
 * The primary's WAL write position over time, as sampled by the monitor: how old a replica's data
 * is follows from when the primary was last at or before the replica's replay position. Each
 * position keeps the last time it was seen, so an idle primary (no new WAL) makes no replica look
 * old. Bounded: positions not seen for `keepMs` are dropped.
 */
export class WalHistory {
  private readonly positions: bigint[] = [];
  private readonly lastSeen: number[] = [];

  constructor(private readonly keepMs: number) {}

  /** The primary's position at `now` (ms). */
  record(position: bigint, now: number): void {
    const last = this.positions.length - 1;
    if (last >= 0 && position < this.positions[last]) {
      // Another primary (a failover, a restored backup): its positions start another history.
      this.positions.length = 0;
      this.lastSeen.length = 0;
    }
    if (this.positions.length && this.positions[this.positions.length - 1] === position) this.lastSeen[this.lastSeen.length - 1] = now;
    else {
      this.positions.push(position);
      this.lastSeen.push(now);
    }
    let stale = 0;
    while (stale < this.positions.length - 1 && this.lastSeen[stale] < now - this.keepMs) stale += 1;
    if (stale) {
      this.positions.splice(0, stale);
      this.lastSeen.splice(0, stale);
    }
  }

  /** The primary's latest sampled position; undefined before the first sample. */
  latest(): bigint | undefined {
    return this.positions[this.positions.length - 1];
  }

  /**
   * Milliseconds since the primary last stood at or before `replayed`: the replica holds everything
   * the primary had then, so its data is at most this old (an upper bound, by at most one polling
   * interval). 0 when it has replayed the latest sample. Undefined when the history does not reach
   * back that far (the process just started, or the replica is further behind than `keepMs`).
   */
  lagMs(replayed: bigint, now: number): number | undefined {
    let index = this.positions.length - 1;
    if (index < 0) return undefined;
    if (replayed >= this.positions[index]) return 0;
    while (index >= 0 && this.positions[index] > replayed) index -= 1;
    return index < 0 ? undefined : now - this.lastSeen[index];
  }
}

/** One read replica's health, updated by each poll. */
export class ReplicaHealth {
  state: ReplicaState = 'down';
  /** Why it is down (for the log), until a poll succeeds. */
  reason = 'not polled yet';
  /** The polled replay position: a lower bound of what it has applied. */
  replayed: bigint | null = null;
  lagMs: number | undefined;
  lagBytes: bigint | undefined;
  /** False until the first poll's outcome, which is always news (for the log). */
  private known = false;

  constructor(
    readonly name: string,
    private readonly maxLagMs: number,
  ) {}

  /** A successful poll. Returns true when the state changed (or is the first known). */
  polled(poll: StandbyPoll, history: WalHistory, now: number): boolean {
    const before = this.known ? this.state : undefined;
    this.known = true;
    if (!poll.standby || poll.replayed === null) {
      this.replayed = null;
      this.lagMs = undefined;
      this.lagBytes = undefined;
      this.reason = poll.standby ? 'it has replayed no WAL yet' : 'it is not a standby (pg_is_in_recovery() is false): reading from it could miss writes';
      this.state = 'down';
      return before !== this.state;
    }
    this.replayed = poll.replayed;
    const primary = history.latest();
    this.lagBytes = primary === undefined ? undefined : primary > poll.replayed ? primary - poll.replayed : 0n;
    // Without enough history, the age of its last replayed commit: older than its data can be, so
    // it errs towards skipping the replica, never towards trusting it.
    const fallback = poll.replayAgeSeconds === null ? undefined : Math.max(0, poll.replayAgeSeconds * 1000);
    this.lagMs = history.lagMs(poll.replayed, now) ?? fallback;
    this.state = this.lagMs !== undefined && this.lagMs <= this.maxLagMs ? 'ok' : 'lagging';
    this.reason = this.state === 'ok' ? '' : this.lagMs === undefined ? 'its lag is not known yet' : `${Math.round(this.lagMs)} ms behind the primary`;
    return before !== this.state;
  }

  /** A failed poll or read: down until a poll succeeds. Returns true when the state changed (or is the first known). */
  failed(reason: string): boolean {
    const before = this.known ? this.state : undefined;
    this.known = true;
    this.state = 'down';
    this.reason = reason;
    this.replayed = null;
    this.lagMs = undefined;
    this.lagBytes = undefined;
    return before !== this.state;
  }

  /** Whether a read of a caller whose last write ended before `lastWrite` may run here. */
  canServe(lastWrite: bigint | null): boolean {
    return this.state === 'ok' && this.replayed !== null && (lastWrite === null || this.replayed >= lastWrite);
  }

  status(): ReplicaStatus {
    const known = this.state !== 'down';
    return {
      name: this.name,
      state: this.state,
      lagSeconds: known && this.lagMs !== undefined ? Math.round(this.lagMs) / 1000 : null,
      lagBytes: known && this.lagBytes !== undefined ? Number(this.lagBytes) : null,
    };
  }
}

/**
 * The replica a read goes to: the next one, in turn, that can serve the caller; undefined when
 * none can (the read goes to the primary). `turn` spreads reads over the replicas.
 */
export function chooseReplica<R extends { readonly health: ReplicaHealth }>(replicas: readonly R[], lastWrite: bigint | null, turn: number): R | undefined {
  for (let i = 0; i < replicas.length; i += 1) {
    const replica = replicas[(turn + i) % replicas.length];
    if (replica.health.canServe(lastWrite)) return replica;
  }
  return undefined;
}
