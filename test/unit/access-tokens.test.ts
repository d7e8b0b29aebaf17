import crypto from 'node:crypto';
import { TokenService } from '../../src/auth/tokens';

const decodedSegments = (token: string) => token.split('.').map((segment) => Buffer.from(segment, 'base64url'));

/* Verified access tokens are remembered (tokens.ts); these are the promises that must survive it. */
describe('An access token verified before', () => {
  const secret = crypto.randomBytes(32).toString('base64');
  const userId = crypto.randomUUID();
  const sessionId = crypto.randomUUID();

  afterEach(() => jest.useRealTimers());

  it('is refused once it has expired, though it was accepted a moment before', () => {
    jest.useFakeTimers({ now: Date.parse('2026-12-01T10:00:00Z') });
    const tokens = new TokenService(secret, 60);
    const token = tokens.issueAccessToken(userId, sessionId);
    expect(tokens.readAccessToken(token)).toEqual({ userId, sessionId });

    jest.setSystemTime(Date.parse('2026-12-01T10:00:59Z'));
    expect(tokens.readAccessToken(token)).toEqual({ userId, sessionId });
    jest.setSystemTime(Date.parse('2026-12-01T10:01:01Z'));
    expect(tokens.readAccessToken(token)).toBeUndefined();
  });

  it('does not vouch for a token that differs from it in any one byte, whichever character carries it', () => {
    const tokens = new TokenService(secret, 900);
    const token = tokens.issueAccessToken(userId, sessionId);
    expect(tokens.readAccessToken(token)).toEqual({ userId, sessionId });
    let altered = 0;
    for (let index = 0; index < token.length; index += 1) {
      if (token[index] === '.') continue;
      const spelling = `${token.slice(0, index)}${token[index] === 'A' ? 'B' : 'A'}${token.slice(index + 1)}`;
      // The last character of a base64url segment carries bits no byte uses: changing only those spells the same token.
      if (decodedSegments(spelling).every((segment, part) => segment.equals(decodedSegments(token)[part]))) continue;
      altered += 1;
      expect(tokens.readAccessToken(spelling)).toBeUndefined();
    }
    expect(altered).toBeGreaterThan(token.length - 10);
  });

  it('does not make a service with another secret accept it', () => {
    const token = new TokenService(secret, 900).issueAccessToken(userId, sessionId);
    const ours = new TokenService(crypto.randomBytes(32).toString('base64'), 900);
    expect(ours.readAccessToken(token)).toBeUndefined();
    expect(ours.readAccessToken(token)).toBeUndefined();
  });
});
