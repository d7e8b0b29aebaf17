import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { TooManyLoginAttempts } from './auth.errors';

const WINDOW_SECONDS = 60;

/**
 * Two fixed one-minute windows: failed logins per (account, client address), and all logins per
 * client address. Over either, the attempt is refused before any password is checked. A limit of 0
 * switches that window off. Counters live in this process's memory.
 *
 * The caller names the account: by its id once the login name has been resolved to one, so the
 * username, the email and any spelling of them share one counter; by the normalised name when it
 * names no account.
 */
export class LoginRateLimiter {
  private readonly failuresPerAccount: RateLimiterMemory | undefined;
  private readonly attemptsPerIp: RateLimiterMemory | undefined;

  constructor(failureLimit: number, attemptLimitPerIp: number) {
    this.failuresPerAccount = failureLimit > 0 ? new RateLimiterMemory({ points: failureLimit, duration: WINDOW_SECONDS }) : undefined;
    this.attemptsPerIp = attemptLimitPerIp > 0 ? new RateLimiterMemory({ points: attemptLimitPerIp, duration: WINDOW_SECONDS }) : undefined;
  }

  /** Counts an attempt from `ip`; throws TooManyLoginAttempts when the address is over its limit. First thing a login does. */
  async admitAttempt(ip: string): Promise<void> {
    try {
      await this.attemptsPerIp?.consume(ip);
    } catch (rejection) {
      throw tooManyAttempts(rejection);
    }
  }

  /**
   * Counts the attempt provisionally as a failure of (`account`, `ip`); throws TooManyLoginAttempts
   * when the window is full. The failure is counted before the password is checked so that a burst
   * of parallel guesses cannot all pass the check while none has failed yet; a success clears it.
   */
  async admitFailure(account: string, ip: string): Promise<void> {
    try {
      await this.failuresPerAccount?.consume(accountKey(account, ip));
    } catch (rejection) {
      throw tooManyAttempts(rejection);
    }
  }

  async recordSuccess(account: string, ip: string): Promise<void> {
    await this.failuresPerAccount?.delete(accountKey(account, ip));
  }
}

function accountKey(account: string, ip: string): string {
  return `${account}\u0000${ip}`;
}

function tooManyAttempts(state: unknown): Error {
  if (!(state instanceof RateLimiterRes)) return state as Error;
  const retryAfter = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
  return new TooManyLoginAttempts(retryAfter);
}
