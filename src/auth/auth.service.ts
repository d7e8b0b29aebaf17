import type { EventOrigin, SecurityEventsRepository } from '../audit/security-events.repository';
import type { Config } from '../config';
import type { Transactions } from '../db/database';
import { NotAuthenticated } from '../errors';
import type { Logger } from '../logger';
import { normaliseEmail } from '../users/email';
import type { UsersRepository } from '../users/users.repository';
import type { Token } from './auth.dto';
import { InactiveUser, IncorrectCredentials } from './auth.errors';
import type { LoginRateLimiter } from './login-rate-limiter';
import type { PasswordHasher } from './passwords';
import type { SessionOwner, SessionsRepository } from './sessions.repository';
import { newRefreshSecret, parseRefreshToken, refreshToken, type TokenService } from './tokens';

export class AuthService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly users: UsersRepository,
    private readonly events: SecurityEventsRepository,
    private readonly database: Transactions,
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
   *
   * Every attempt that reaches the password check leaves a security event: `login` with the new
   * session, or `login_failed` (its own statement, as nothing else is written). A refusal by the
   * rate limit (429) checks no password and leaves none, so a flood past the limit cannot flood
   * the audit trail; the request log and /metrics count those.
   */
  async login(identifier: string, password: string, origin: EventOrigin, abandoned?: AbortSignal): Promise<Token> {
    const clientIp = origin.ip ?? '';
    await this.rateLimiter.admitAttempt(clientIp);
    const name = normaliseEmail(identifier);
    const user = await this.users.findLiveByLogin(name);
    const account = user ? `account:${user.id}` : `name:${name}`;
    await this.rateLimiter.admitFailure(account, clientIp);
    const valid = user ? await this.passwords.verify(password, user.hashedPassword) : await this.passwords.verifyAgainstDummy(password);
    if (!user || !valid) {
      await this.events.record({ type: 'login_failed', userId: user?.id ?? null, origin, details: { reason: user ? 'wrong_password' : 'unknown_user' } });
      throw new IncorrectCredentials();
    }
    await this.rateLimiter.recordSuccess(account, clientIp);
    if (!user.isActive) {
      await this.events.record({ type: 'login_failed', userId: user.id, origin, details: { reason: 'inactive_user' } });
      throw new InactiveUser();
    }
    abandoned?.throwIfAborted();
    return this.startSession(user.id, origin);
  }

  /** A new session and its `login` event, in one transaction. */
  async startSession(userId: string, origin: EventOrigin): Promise<Token> {
    const { secret, secretHash } = newRefreshSecret();
    const sessionId = await this.database.transaction(async (tx) => {
      const id = await tx.use(this.sessions).start(userId, secretHash, this.authConfig.refreshTokenTtlSeconds);
      await tx.use(this.events).record({ type: 'login', userId, origin, details: { session_id: id } });
      return id;
    });
    return this.tokenPair(userId, sessionId, secret);
  }

  /**
   * Rotates the refresh token in one statement: only the current token of a live session of a live,
   * active user matches, and the same statement remembers the hash of the secret it replaces. A
   * token whose secret is one of those remembered hashes was valid once and has been rotated away:
   * someone is replaying it, so the whole session is revoked. Any other token is just not valid:
   * 401, and nothing is written, so knowing a session id (it is in every access token) is not
   * enough to end the session.
   */
  async refresh(token: string, origin: EventOrigin): Promise<Token> {
    const parts = parseRefreshToken(token);
    if (!parts) throw new NotAuthenticated();
    const { secret, secretHash } = newRefreshSecret();
    const userId = await this.sessions.rotate(parts.sessionId, parts.secretHash, secretHash, this.authConfig.refreshTokenTtlSeconds);
    if (userId) return this.tokenPair(userId, parts.sessionId, secret);

    const replayedBy = await this.database.transaction(async (tx) => {
      const revokedFor = await tx.use(this.sessions).revokeIfReplayed(parts.sessionId, parts.secretHash);
      if (revokedFor) await tx.use(this.events).record({ type: 'refresh_reuse', userId: revokedFor, origin, details: { session_id: parts.sessionId } });
      return revokedFor;
    });
    if (replayedBy) this.logger.warn({ sessionId: parts.sessionId, userId: replayedBy }, 'rotated refresh token reused: session revoked');
    throw new NotAuthenticated();
  }

  /** Ends the session, with its `logout` event; a session another request ended meanwhile leaves no second event. */
  async logout(userId: string, sessionId: string, origin: EventOrigin): Promise<void> {
    await this.database.transaction(async (tx) => {
      if (await tx.use(this.sessions).revokeOne(sessionId, 'logout')) {
        await tx.use(this.events).record({ type: 'logout', userId, origin, details: { session_id: sessionId } });
      }
    });
  }

  /** The caller an access token names, if the token is valid and its session, user and account still are. */
  readonly authenticate = async (accessToken: string | undefined): Promise<SessionOwner> => {
    const claims = accessToken === undefined ? undefined : this.tokens.readAccessToken(accessToken);
    if (!claims) throw new NotAuthenticated();
    const owner = await this.sessions.findOwner(claims.sessionId, claims.userId);
    if (!owner) throw new NotAuthenticated();
    return owner;
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
