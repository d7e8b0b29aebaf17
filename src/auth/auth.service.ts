import type { Request } from 'express';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config';
import { queryRows } from '../db/sql';
import { AUTHENTICATE, REVOKE_REPLAYED_SESSION, ROTATE_REFRESH_TOKEN } from './auth.queries';
import { HttpError, UnauthorizedError } from '../http/errors';
import type { Principal } from '../http/route';
import type { Logger } from '../logger';
import { normaliseEmail } from '../users/email';
import { User } from '../users/user.entity';
import type { Token } from './auth.dto';
import type { LoginRateLimiter } from './login-rate-limiter';
import type { PasswordHasher } from './passwords';
import { Session, type RevokedReason } from './session.entity';
import { newRefreshSecret, parseRefreshToken, refreshToken, type TokenService } from './tokens';

interface UserRow {
  id: string;
  email: string;
  username: string;
  hashed_password: string;
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}

function toUser(row: UserRow): User {
  return Object.assign(new User(), {
    id: row.id,
    email: row.email,
    username: row.username,
    hashedPassword: row.hashed_password,
    isActive: row.is_active,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: null,
  });
}

export class AuthService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly passwords: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly rateLimiter: LoginRateLimiter,
    private readonly authConfig: Config['auth'],
    private readonly logger: Logger,
  ) {}

  /**
   * `identifier` is the email or the username, normalised as stored emails are (so `ａｌｉｃｅ@…`
   * finds alice). Unknown user and wrong password are indistinguishable.
   *
   * Order matters: the address's attempt is counted first; then the name is resolved to its account
   * (a lookup, not a password check), so that failures count per account however it was named;
   * then the failure is counted, before bcrypt runs, so no password is checked past the limit.
   */
  async login(identifier: string, password: string, clientIp: string, abandoned?: AbortSignal): Promise<Token> {
    await this.rateLimiter.admitAttempt(clientIp);
    const name = normaliseEmail(identifier);
    const user = await this.dataSource
      .getRepository(User)
      .createQueryBuilder('user')
      .where('(lower(user.email) = lower(:name) OR lower(user.username) = lower(:name))', { name })
      .getOne();
    const account = user ? `account:${user.id}` : `name:${name}`;
    await this.rateLimiter.admitFailure(account, clientIp);
    const valid = user ? await this.passwords.verify(password, user.hashedPassword) : await this.passwords.verifyAgainstDummy(password);
    if (!user || !valid) throw new HttpError(400, 'Incorrect email or password');
    await this.rateLimiter.recordSuccess(account, clientIp);
    if (!user.isActive) throw new HttpError(400, 'Inactive user');
    abandoned?.throwIfAborted();
    return this.startSession(user.id);
  }

  async startSession(userId: string): Promise<Token> {
    const { secret, secretHash } = newRefreshSecret();
    const [{ id }] = await queryRows<{ id: string }>(
      this.dataSource,
      `INSERT INTO sessions (user_id, refresh_token_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING id`,
      [userId, secretHash, this.authConfig.refreshTokenTtlSeconds],
    );
    return this.tokenPair(userId, id, secret);
  }

  /**
   * Rotates the refresh token in one statement: only the current token of a live session of a live,
   * active user matches, and the same statement remembers the hash of the secret it replaces. A
   * token whose secret is one of those remembered hashes was valid once and has been rotated away:
   * someone is replaying it, so the whole session is revoked. Any other token is just not valid:
   * 401, and nothing is written, so knowing a session id (it is in every access token) is not
   * enough to end the session.
   */
  async refresh(token: string): Promise<Token> {
    const parts = parseRefreshToken(token);
    if (!parts) throw new UnauthorizedError();
    const { secret, secretHash } = newRefreshSecret();
    const [rotated] = await queryRows<{ user_id: string }>(this.dataSource, ROTATE_REFRESH_TOKEN, [
      parts.sessionId,
      parts.secretHash,
      secretHash,
      this.authConfig.refreshTokenTtlSeconds,
    ]);
    if (rotated) return this.tokenPair(rotated.user_id, parts.sessionId, secret);

    const [revoked] = await queryRows<{ user_id: string }>(this.dataSource, REVOKE_REPLAYED_SESSION, [parts.sessionId, parts.secretHash]);
    if (revoked) this.logger.warn({ sessionId: parts.sessionId, userId: revoked.user_id }, 'rotated refresh token reused: session revoked');
    throw new UnauthorizedError();
  }

  async logout(principal: Principal): Promise<void> {
    await revokeSessions(this.dataSource.manager, { sessionId: principal.sessionId }, 'logout');
  }

  /** The caller behind `Authorization: Bearer …`, if the token is valid and its session, user and account still are. */
  readonly authenticate = async (req: Request): Promise<Principal> => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer ([^\s]+)$/i.exec(header) : null;
    const claims = match ? this.tokens.readAccessToken(match[1]) : undefined;
    if (!claims) throw new UnauthorizedError();
    const [row] = await queryRows<UserRow>(this.dataSource, AUTHENTICATE, [claims.sessionId, claims.userId]);
    const user = row && toUser(row);
    if (!user) throw new UnauthorizedError();
    return { user, sessionId: claims.sessionId };
  };

  private tokenPair(userId: string, sessionId: string, secret: string): Token {
    return {
      access_token: this.tokens.issueAccessToken(userId, sessionId),
      token_type: 'bearer',
      expires_in: this.tokens.accessTokenTtlSeconds,
      refresh_token: refreshToken(sessionId, secret),
    };
  }
}

/** Revokes one session, or every session of a user except one, inside the caller's transaction if any. */
export async function revokeSessions(
  manager: EntityManager,
  which: { sessionId: string } | { userId: string; except?: string },
  reason: RevokedReason,
): Promise<void> {
  const query = manager
    .createQueryBuilder()
    .update(Session)
    .set({ revokedAt: () => 'now()', revokedReason: reason })
    .where('revoked_at IS NULL');
  if ('sessionId' in which) query.andWhere('id = :sessionId', which);
  else {
    query.andWhere('user_id = :userId', which);
    if (which.except) query.andWhere('id <> :except', which);
  }
  await query.execute();
}
