import crypto from 'node:crypto';
import bcrypt from 'bcrypt';

/** bcrypt reads at most 72 bytes; longer passwords would match on their first 72 bytes alone. */
const BCRYPT_MAX_BYTES = 72;

/**
 * bcrypt, compatible with the Python design's hashes (passlib/bcrypt `$2b$`) for every password
 * it could tell apart. The native package hashes on libuv's thread pool, off the event loop.
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly rounds: number) {}

  hash(password: string): Promise<string> {
    return bcrypt.hash(bcryptInput(password), this.rounds);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(bcryptInput(password), hash);
  }

  /** Spends the time of a real check when there is no user, so timing does not reveal which usernames exist. */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummyHash ??= bcrypt.hash(crypto.randomBytes(16).toString('hex'), this.rounds);
    await bcrypt.compare(bcryptInput(password), await this.dummyHash);
    return false;
  }
}

function bcryptInput(password: string): string {
  if (Buffer.byteLength(password) <= BCRYPT_MAX_BYTES) return password;
  return crypto.createHash('sha256').update(password).digest('base64');
}
