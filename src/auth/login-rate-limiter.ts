import crypto from 'node:crypto';
import type { Logger } from '../logger';
import { LoginCountingUnavailable, TooManyLoginAttempts } from './auth.errors';
import type { CounterKey, LoginAttemptsRepository } from './login-attempts.repository';

/**
 * The account a login names: its id once the name has been resolved to one, so the username, the
 * email and any spelling of them share one counter; otherwise the normalised name itself.
 */
export type LoginAccount = { userId: string } | { unknownName: string };

export interface LoginLimits {
  /** Failed logins a minute per account and address (LOGIN_RATE_LIMIT); 0: off. */
  failuresPerAccount: number;
  /** Logins a minute per address (LOGIN_RATE_LIMIT_PER_IP); 0: off. */
  attemptsPerAddress: number;
}

/** Rows deleted by one sweep: a few milliseconds of work, whatever the table holds. */
export const SWEEP_BATCH = 1000;

/** A client address longer than this is no IP address; its first characters count for it. */
const MAX_ADDRESS_LENGTH = 100;

/**
 * Two fixed one-minute windows, counted in PostgreSQL (login_attempt_counts) so that every process
 * and replica sees one count: failed logins per (account, client address), and all logins per
 * client address. Over either, the attempt is refused before any password is checked.
 *
 * Fails closed: when an attempt cannot be counted (the database is down, the statement timed out,
 * anything else), the login is refused with 503, never let through unchecked.
 *
 * Counters whose window has ended are deleted opportunistically: a login starts a sweep of at most
 * SWEEP_BATCH rows when the last one was a minute ago, or at once when the last one found a full
 * batch (each login adds at most two rows, so sweeps keep up with any login rate). One sweep at a
 * time per process; it never delays the login that starts it.
 */
export class LoginRateLimiter {
  private lastSweepAt = -Infinity;
  private sweeping = false;
  private sweepIsBehind = false;

  constructor(
    private readonly counters: LoginAttemptsRepository,
    private readonly limits: LoginLimits,
    private readonly logger: Logger,
    private readonly sweepEveryMs = 60_000,
  ) {}

  /** Counts an attempt from `address`; throws TooManyLoginAttempts when the address is over its limit. First thing a login does. */
  async admitAttempt(address: string): Promise<void> {
    this.sweepIfDue();
    await this.admit(this.limits.attemptsPerAddress, { kind: 'attempts', address: clip(address), account: '' });
  }

  /**
   * Counts the attempt provisionally as a failure of (`account`, `address`); throws
   * TooManyLoginAttempts when the window is full. The failure is counted before the password is
   * checked so that a burst of parallel guesses cannot all pass the check while none has failed
   * yet; a success clears it.
   */
  async admitFailure(account: LoginAccount, address: string): Promise<void> {
    await this.admit(this.limits.failuresPerAccount, failureKey(account, address));
  }

  async recordSuccess(account: LoginAccount, address: string): Promise<void> {
    if (this.limits.failuresPerAccount === 0) return;
    await this.counting(() => this.counters.clear(failureKey(account, address)));
  }

  private async admit(limit: number, key: CounterKey): Promise<void> {
    if (limit === 0) return;
    const { attempts, retryAfterSeconds } = await this.counting(() => this.counters.countAttempt(key));
    if (attempts > limit) throw new TooManyLoginAttempts(retryAfterSeconds);
  }

  private async counting<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.logger.warn({ err: error }, 'login refused: its attempts could not be counted');
      throw new LoginCountingUnavailable(error);
    }
  }

  private sweepIfDue(): void {
    const now = performance.now();
    if (this.sweeping || (!this.sweepIsBehind && now - this.lastSweepAt < this.sweepEveryMs)) return;
    this.sweeping = true;
    this.lastSweepAt = now;
    this.counters
      .deleteEnded(SWEEP_BATCH)
      .then(
        (deleted) => (this.sweepIsBehind = deleted === SWEEP_BATCH),
        (error) => this.logger.warn({ err: error }, 'could not delete ended login counters; the next sweep will'),
      )
      .finally(() => (this.sweeping = false));
  }
}

/** The failures counter of an account at an address. A name that matches no account may be a mistyped password: only its hash is stored. */
function failureKey(account: LoginAccount, address: string): CounterKey {
  const name = 'userId' in account ? `user:${account.userId}` : `name:${crypto.createHash('sha256').update(account.unknownName).digest('hex')}`;
  return { kind: 'failures', address: clip(address), account: name };
}

function clip(address: string): string {
  return address.slice(0, MAX_ADDRESS_LENGTH);
}
