import crypto from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * How many verified access tokens are remembered. A client sends the same token with every request,
 * and verifying it again (base64 and JSON decoding, the HMAC, the claims) was about a twentieth of a
 * read's CPU. fast-jwt keys its cache by a SHA-256 of the whole token and keeps an entry only until
 * the token's `exp`, so an expired token is verified afresh (and refused), and a token that differs
 * by one character is a different entry. Only the signature check is remembered: the session is
 * still looked up on every request, so logging out or deactivating a user takes effect at once.
 */
const VERIFIED_TOKENS_CACHED = 1000;

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

export interface RefreshTokenParts {
  sessionId: string;
  secretHash: string;
}

/**
 * Access tokens are HS256 JWTs naming the user (`sub`) and the session (`sid`), checked against
 * the session on every request so revocation is immediate. Refresh tokens are opaque:
 * `<session id>.<32 random bytes>`, of which only the SHA-256 of the random part is stored.
 */
export class TokenService {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verify: (token: string) => Record<string, unknown>;

  constructor(
    secret: string,
    readonly accessTokenTtlSeconds: number,
  ) {
    this.sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: accessTokenTtlSeconds * 1000 });
    this.verify = createVerifier({ key: secret, algorithms: ['HS256'], requiredClaims: ['sub', 'sid', 'exp', 'typ'], cache: VERIFIED_TOKENS_CACHED });
  }

  issueAccessToken(userId: string, sessionId: string): string {
    return this.sign({ sub: userId, sid: sessionId, typ: 'access' });
  }

  /** The claims of a valid, unexpired access token; undefined for anything else. */
  readAccessToken(token: string): AccessClaims | undefined {
    let claims: Record<string, unknown>;
    try {
      claims = this.verify(token);
    } catch {
      return undefined;
    }
    const { sub, sid, typ } = claims;
    if (typ !== 'access' || typeof sub !== 'string' || typeof sid !== 'string' || !UUID.test(sub) || !UUID.test(sid)) return undefined;
    return { userId: sub, sessionId: sid };
  }
}

export function newRefreshSecret(): { secret: string; secretHash: string } {
  const secret = crypto.randomBytes(32).toString('base64url');
  return { secret, secretHash: hashRefreshSecret(secret) };
}

export function refreshToken(sessionId: string, secret: string): string {
  return `${sessionId}.${secret}`;
}

export function parseRefreshToken(token: string): RefreshTokenParts | undefined {
  const [sessionId, secret, ...rest] = token.split('.');
  if (rest.length || !UUID.test(sessionId) || !secret || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return undefined;
  return { sessionId, secretHash: hashRefreshSecret(secret) };
}

function hashRefreshSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret).digest('hex');
}
