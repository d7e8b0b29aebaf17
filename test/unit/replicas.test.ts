import fc from 'fast-check';
import { chooseReplica, ReplicaHealth, WalHistory, walPosition, type StandbyPoll } from '../../src/db/replicas';

const MAX_LAG_MS = 5000;
const POLL_MS = 200;

function standby(replayed: bigint | null, replayAgeSeconds: number | null = null): StandbyPoll {
  return { standby: true, replayed, replayAgeSeconds };
}

/**
 * A primary whose WAL grows by `sizes[i]` bytes at `times[i]` (ms, increasing), sampled every
 * POLL_MS by the monitor: the same facts the service has, and the truth to compare them with.
 */
function primaryTimeline(writes: { at: number; bytes: number }[]) {
  const sorted = [...writes].sort((a, b) => a.at - b.at);
  const positionAt = (time: number) => sorted.filter((write) => write.at <= time).reduce((position, write) => position + BigInt(write.bytes), 1000n);
  /** The last moment the primary stood at or before `position`: a replica replayed to there holds everything written until then. */
  const lastMomentAtOrBefore = (position: bigint, now: number) => {
    const crossing = sorted.find((write) => write.at <= now && positionAt(write.at) > position);
    return crossing ? crossing.at : now;
  };
  return { positionAt, lastMomentAtOrBefore };
}

describe('WalHistory: how old a replica’s data is, from the primary’s sampled WAL positions', () => {
  it('is 0 for a replica that has replayed everything, however long the primary has been idle', () => {
    const history = new WalHistory(60_000);
    for (let now = 0; now <= 30_000; now += POLL_MS) history.record(5000n, now);
    expect(history.lagMs(5000n, 30_000)).toBe(0);
  });

  it('counts from the last sample at or before the replayed position, and is undefined when the history does not reach back that far', () => {
    const history = new WalHistory(60_000);
    history.record(100n, 0);
    history.record(100n, 200);
    history.record(300n, 400);
    history.record(300n, 600);
    expect(history.lagMs(150n, 1000)).toBe(800);
    expect(history.lagMs(50n, 1000)).toBeUndefined();
  });

  it('forgets positions older than it keeps, and starts again when the primary goes back (another primary)', () => {
    const history = new WalHistory(1000);
    history.record(100n, 0);
    history.record(200n, 5000);
    expect(history.lagMs(150n, 5000)).toBeUndefined();
    history.record(50n, 5200);
    expect(history.latest()).toBe(50n);
    expect(history.lagMs(50n, 5200)).toBe(0);
  });

  it('never says a replica is fresher than it is, and overstates its age by at most one polling interval (generated timelines)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 20_000 }), bytes: fc.integer({ min: 1, max: 10_000 }) }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        (writes, replayedAt, pollOffset) => {
          const { positionAt, lastMomentAtOrBefore } = primaryTimeline(writes);
          const history = new WalHistory(60_000);
          const now = 20_000 + (pollOffset % POLL_MS);
          for (let time = 0; time <= now; time += POLL_MS) history.record(positionAt(time), time);
          // The replica applied everything the primary had at `replayedAt` (never past what exists).
          const replayed = positionAt(Math.min(replayedAt, now));
          const lag = history.lagMs(replayed, now);
          const truth = now - lastMomentAtOrBefore(replayed, now);
          expect(lag).toBeDefined();
          expect(lag!).toBeGreaterThanOrEqual(truth);
          expect(lag!).toBeLessThanOrEqual(truth + POLL_MS);
        },
      ),
    );
  });
});

describe('ReplicaHealth', () => {
  const caughtUp = () => {
    const history = new WalHistory(60_000);
    history.record(1000n, 0);
    return history;
  };

  it('reports its first poll whatever it finds (for the log), and afterwards only changes', () => {
    const unreachable = new ReplicaHealth('replica-1', MAX_LAG_MS);
    expect(unreachable.failed('cannot reach the database')).toBe(true);
    expect(unreachable.failed('cannot reach the database')).toBe(false);
    const reachable = new ReplicaHealth('replica-2', MAX_LAG_MS);
    expect(reachable.polled(standby(1000n), caughtUp(), 0)).toBe(true);
    expect(reachable.polled(standby(1000n), caughtUp(), 200)).toBe(false);
  });

  it('is down until its first poll, and ok once it has replayed what the primary had', () => {
    const health = new ReplicaHealth('replica-1', MAX_LAG_MS);
    expect(health.state).toBe('down');
    expect(health.polled(standby(1000n), caughtUp(), 0)).toBe(true);
    expect(health.status()).toEqual({ name: 'replica-1', state: 'ok', lagSeconds: 0, lagBytes: 0 });
  });

  it('is lagging past the maximum lag, and ok again once it catches up', () => {
    const history = new WalHistory(60_000);
    history.record(1000n, 0);
    history.record(2000n, 200);
    const health = new ReplicaHealth('replica-1', MAX_LAG_MS);
    health.polled(standby(1000n), history, 5000);
    expect(health.state).toBe('ok');
    health.polled(standby(1000n), history, 5201);
    expect(health.status()).toEqual({ name: 'replica-1', state: 'lagging', lagSeconds: 5.201, lagBytes: 1000 });
    history.record(2000n, 5400);
    health.polled(standby(2000n), history, 5400);
    expect(health.state).toBe('ok');
  });

  it('without enough history, takes the age of its last replayed commit: older than its data can be, so it errs towards skipping it', () => {
    const history = new WalHistory(60_000);
    history.record(9000n, 0);
    const health = new ReplicaHealth('replica-1', MAX_LAG_MS);
    health.polled(standby(1000n, 7.5), history, 0);
    expect(health.status()).toMatchObject({ state: 'lagging', lagSeconds: 7.5, lagBytes: 8000 });
    health.polled(standby(1000n, null), history, 0);
    expect(health.state).toBe('lagging');
  });

  it('is down when it is not a standby (a promoted replica, or a primary named by mistake), and when a poll or a read fails', () => {
    const health = new ReplicaHealth('replica-1', MAX_LAG_MS);
    health.polled({ standby: false, replayed: null, replayAgeSeconds: null }, caughtUp(), 0);
    expect(health.state).toBe('down');
    expect(health.reason).toContain('not a standby');
    health.polled(standby(1000n), caughtUp(), 0);
    expect(health.failed('cannot reach the database (connect ECONNREFUSED 127.0.0.1:5433)')).toBe(true);
    expect(health.status()).toEqual({ name: 'replica-1', state: 'down', lagSeconds: null, lagBytes: null });
    expect(health.failed('again')).toBe(false);
  });
});

describe('chooseReplica: the read-your-writes rule', () => {
  const states = fc.constantFrom('ok' as const, 'lagging' as const, 'down' as const);
  const position = fc.bigInt({ min: 0n, max: 2n ** 62n });

  it('picks only a replica that is ok and has replayed the caller’s last write, and one whenever there is such a replica (generated)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ state: states, replayed: fc.option(position, { nil: null }) }), { minLength: 1, maxLength: 5 }),
        fc.option(position, { nil: null }),
        fc.nat(),
        (replicas, lastWrite, turn) => {
          const targets = replicas.map(({ state, replayed }, index) => {
            const health = new ReplicaHealth(`replica-${index + 1}`, MAX_LAG_MS);
            Object.assign(health, { state, replayed: state === 'down' ? null : replayed });
            return { health };
          });
          const chosen = chooseReplica(targets, lastWrite, turn);
          const servable = targets.filter(
            ({ health }) => health.state === 'ok' && health.replayed !== null && (lastWrite === null || health.replayed >= lastWrite),
          );
          if (chosen === undefined) expect(servable).toEqual([]);
          else expect(servable).toContain(chosen);
        },
      ),
    );
  });

  it('takes the replicas in turn', () => {
    const targets = [1, 2, 3].map((n) => {
      const health = new ReplicaHealth(`replica-${n}`, MAX_LAG_MS);
      Object.assign(health, { state: 'ok', replayed: 1000n });
      return { health };
    });
    expect([0, 1, 2, 3].map((turn) => chooseReplica(targets, 500n, turn)!.health.name)).toEqual(['replica-1', 'replica-2', 'replica-3', 'replica-1']);
  });

  it('reads positions as the database sends them: decimal text of bytes, past 2^53 without loss', () => {
    expect(walPosition('9007199254740993')).toBe(9007199254740993n);
    expect(walPosition(null)).toBeNull();
    expect(walPosition(undefined)).toBeNull();
  });
});
