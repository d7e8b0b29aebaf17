import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { HttpError } from '../http/errors';

const WINDOW_SECONDS = 60;

/**
 * Two fixed one-minute windows: failed logins per (username, client address), and all logins per
 * client address. Over either, the attempt is refused before any password is checked. A limit of 0
 * switches that window off. Counters live in this process's memory.
 */
export class LoginRateLimiter {
  private readonly failuresPerUser: RateLimiterMemory | undefined;
  private readonly attemptsPerIp: RateLimiterMemory | undefined;

  constructor(failureLimit: number, attemptLimitPerIp: number) {
    this.failuresPerUser = failureLimit > 0 ? new RateLimiterMemory({ points: failureLimit, duration: WINDOW_SECONDS }) : undefined;
    this.attemptsPerIp = attemptLimitPerIp > 0 ? new RateLimiterMemory({ points: attemptLimitPerIp, duration: WINDOW_SECONDS }) : undefined;
  }

  /**
   * Counts an attempt from `ip`, and provisionally as a failure of (username, ip); throws 429 when
   * either window is full. The failure is counted before the password is checked so that a burst
   * of parallel guesses cannot all pass the check while none has failed yet; a success clears it.
   */
  async admit(username: string, ip: string): Promise<void> {
    try {
      await this.attemptsPerIp?.consume(ip);
      await this.failuresPerUser?.consume(userKey(username, ip));
    } catch (rejection) {
      throw tooManyAttempts(rejection);
    }
  }

  async recordSuccess(username: string, ip: string): Promise<void> {
    await this.failuresPerUser?.delete(userKey(username, ip));
  }
}

function userKey(username: string, ip: string): string {
  return `${username.toLowerCase()}\u0000${ip}`;
}

function tooManyAttempts(state: unknown): Error {
  if (!(state instanceof RateLimiterRes)) return state as Error;
  const retryAfter = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
  return new HttpError(429, 'Too many login attempts; try again later', { 'Retry-After': String(retryAfter) });
}
