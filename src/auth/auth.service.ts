import type { Config } from '../config';
import { NotAuthenticated } from '../errors';
import type { Logger } from '../logger';
import { normaliseEmail } from '../users/email';
import type { UsersRepository } from '../users/users.repository';
import type { Token } from './auth.dto';
import { InactiveUser, IncorrectCredentials } from './auth.errors';
import type { LoginAccount, LoginRateLimiter } from './login-rate-limiter';
import type { PasswordHasher } from './passwords';
import type { SessionOwner, SessionsRepository } from './sessions.repository';
import { newRefreshSecret, parseRefreshToken, refreshToken, type TokenService } from './tokens';

export class AuthService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly users: UsersRepository,
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
    const user = await this.users.findLiveByLogin(name);
    const account: LoginAccount = user ? { userId: user.id } : { unknownName: name };
    await this.rateLimiter.admitFailure(account, clientIp);
    const valid = user ? await this.passwords.verify(password, user.hashedPassword) : await this.passwords.verifyAgainstDummy(password);
    if (!user || !valid) throw new IncorrectCredentials();
    await this.rateLimiter.recordSuccess(account, clientIp);
    if (!user.isActive) throw new InactiveUser();
    abandoned?.throwIfAborted();
    return this.startSession(user.id);
  }

  async startSession(userId: string): Promise<Token> {
    const { secret, secretHash } = newRefreshSecret();
    const sessionId = await this.sessions.start(userId, secretHash, this.authConfig.refreshTokenTtlSeconds);
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
  async refresh(token: string): Promise<Token> {
    const parts = parseRefreshToken(token);
    if (!parts) throw new NotAuthenticated();
    const { secret, secretHash } = newRefreshSecret();
    const userId = await this.sessions.rotate(parts.sessionId, parts.secretHash, secretHash, this.authConfig.refreshTokenTtlSeconds);
    if (userId) return this.tokenPair(userId, parts.sessionId, secret);

    const replayedBy = await this.sessions.revokeIfReplayed(parts.sessionId, parts.secretHash);
    if (replayedBy) this.logger.warn({ sessionId: parts.sessionId, userId: replayedBy }, 'rotated refresh token reused: session revoked');
    throw new NotAuthenticated();
  }

  async logout(sessionId: string): Promise<void> {
    await this.sessions.revokeOne(sessionId, 'logout');
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
