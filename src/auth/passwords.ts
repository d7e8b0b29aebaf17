import crypto from 'node:crypto';
import os from 'node:os';
import bcrypt from 'bcrypt';

/** bcrypt reads at most 72 bytes; longer passwords would match on their first 72 bytes alone. */
const BCRYPT_MAX_BYTES = 72;

const NUL = '\u0000';

/**
 * bcrypt, compatible with the Python design's hashes (passlib/bcrypt `$2b$`) for every password
 * it could tell apart. The native package hashes on libuv's thread pool, off the event loop.
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;
  private readonly slots: Slots;

  /**
   * `concurrency` bounds how many hashes run at once. Unbounded, a burst of logins fills all of
   * libuv's threads with bcrypt and takes every core from the requests that do not hash.
   */
  constructor(
    private readonly rounds: number,
    concurrency = Math.max(1, os.availableParallelism() - 1),
  ) {
    this.slots = new Slots(concurrency);
  }

  /** Refuses a password containing U+0000 (request validation refuses it first): bcrypt would hash only the text before it. */
  hash(password: string): Promise<string> {
    if (password.includes(NUL))
      return Promise.reject(new RangeError('refusing to hash a password containing U+0000: bcrypt would hash only the text before it'));
    return this.slots.run(() => bcrypt.hash(bcryptInput(password), this.rounds));
  }

  /** A password containing U+0000 never matches; it still costs one comparison, so it answers in the usual time. */
  async verify(password: string, hash: string): Promise<boolean> {
    const matches = await this.slots.run(() => bcrypt.compare(comparisonInput(password), hash));
    return matches && !password.includes(NUL);
  }

  /** Spends the time of a real check when there is no user, so timing does not reveal which usernames exist. */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash(crypto.randomBytes(16).toString('hex'));
    const dummy = await this.dummyHash;
    await this.slots.run(() => bcrypt.compare(comparisonInput(password), dummy));
    return false;
  }
}

/** At most `limit` tasks at once; the rest wait in arrival order. A finishing task hands its slot on. */
class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

/**
 * What bcrypt compares a presented password as. bcrypt reads a C string and would stop at a U+0000,
 * so "pass\u0000anything" would match "pass": such a password is swapped for random text, which
 * takes a comparison's time and cannot match.
 */
function comparisonInput(password: string): string {
  return password.includes(NUL) ? crypto.randomBytes(32).toString('base64url') : bcryptInput(password);
}

function bcryptInput(password: string): string {
  if (Buffer.byteLength(password) <= BCRYPT_MAX_BYTES) return password;
  return crypto.createHash('sha256').update(password).digest('base64');
}
