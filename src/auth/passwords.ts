import crypto from 'node:crypto';
import os from 'node:os';
import bcrypt from 'bcrypt';

/** bcrypt reads at most 72 bytes; longer passwords would match on their first 72 bytes alone. */
const BCRYPT_MAX_BYTES = 72;

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

  hash(password: string): Promise<string> {
    return this.slots.run(() => bcrypt.hash(bcryptInput(password), this.rounds));
  }

  verify(password: string, hash: string): Promise<boolean> {
    return this.slots.run(() => bcrypt.compare(bcryptInput(password), hash));
  }

  /** Spends the time of a real check when there is no user, so timing does not reveal which usernames exist. */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash(crypto.randomBytes(16).toString('hex'));
    const dummy = await this.dummyHash;
    await this.slots.run(() => bcrypt.compare(bcryptInput(password), dummy));
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

function bcryptInput(password: string): string {
  if (Buffer.byteLength(password) <= BCRYPT_MAX_BYTES) return password;
  return crypto.createHash('sha256').update(password).digest('base64');
}
