import crypto from 'node:crypto';
import { TokenService } from '../../src/auth/tokens';

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

  it('does not vouch for a token that differs from it in any one character', () => {
    const tokens = new TokenService(secret, 900);
    const token = tokens.issueAccessToken(userId, sessionId);
    expect(tokens.readAccessToken(token)).toEqual({ userId, sessionId });
    for (let index = 0; index < token.length; index += 1) {
      if (token[index] === '.') continue;
      const altered = `${token.slice(0, index)}${token[index] === 'A' ? 'B' : 'A'}${token.slice(index + 1)}`;
      expect(tokens.readAccessToken(altered)).toBeUndefined();
    }
  });

  it('does not make a service with another secret accept it', () => {
    const token = new TokenService(secret, 900).issueAccessToken(userId, sessionId);
    const ours = new TokenService(crypto.randomBytes(32).toString('base64'), 900);
    expect(ours.readAccessToken(token)).toBeUndefined();
    expect(ours.readAccessToken(token)).toBeUndefined();
  });
});
