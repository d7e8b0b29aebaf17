import { ConfigError, loadConfig } from '../src/config';

const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://todo@db/todo' };
const strongSecret = 'Zx8pQ2mV7rT4nK9wB3cH6jL1sD5fG0aY';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('the configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      port: 8000,
      migrateOnStart: true,
      auth: { bcryptRounds: 12, accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 604800, loginRateLimit: 10, loginRateLimitPerIp: 100 },
      http: { corsOrigins: [], trustProxy: false },
    });
  });

  it('generates a random JWT secret per start in development and says so', () => {
    const first = loadConfig({});
    const second = loadConfig({});
    expect(first.auth.jwtSecretGenerated).toBe(true);
    expect(first.auth.jwtSecret).not.toBe(second.auth.jwtSecret);
    expect(Buffer.byteLength(first.auth.jwtSecret)).toBeGreaterThanOrEqual(32);
  });

  it('requires JWT_SECRET in production', () => {
    expect(configError(production)).toContain('JWT_SECRET: required when NODE_ENV=production');
  });

  it('refuses a JWT_SECRET shorter than 32 bytes or a placeholder', () => {
    expect(configError({ ...production, JWT_SECRET: 'changethis' })).toContain('JWT_SECRET: must be at least 32 bytes');
    expect(configError({ ...production, JWT_SECRET: 'changethis'.padEnd(32, 'x').replace(/./g, 'x') })).toContain('placeholder');
    expect(configError({ ...production, JWT_SECRET: 'your-secret-key-goes-here-please-change' })).toContain('placeholder');
  });

  it('refuses fewer than 10 bcrypt rounds in production, and allows 4 elsewhere', () => {
    expect(configError({ ...production, JWT_SECRET: strongSecret, BCRYPT_ROUNDS: '9' })).toContain('BCRYPT_ROUNDS: must be at least 10');
    expect(loadConfig({ BCRYPT_ROUNDS: '4' }).auth.bcryptRounds).toBe(4);
    expect(loadConfig({ ...production, JWT_SECRET: strongSecret }).auth).toMatchObject({ bcryptRounds: 12, jwtSecret: strongSecret, jwtSecretGenerated: false });
  });

  it('reads token lifetimes in seconds or with a unit', () => {
    expect(loadConfig({ ACCESS_TOKEN_TTL: '300', REFRESH_TOKEN_TTL: '30d' }).auth).toMatchObject({ accessTokenTtlSeconds: 300, refreshTokenTtlSeconds: 2592000 });
    expect(configError({ ACCESS_TOKEN_TTL: 'soon' })).toContain('ACCESS_TOKEN_TTL');
  });

  it('names every bad variable at once', () => {
    const message = configError({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOGIN_RATE_LIMIT: '-1' });
    expect(message).toContain('PORT');
    expect(message).toContain('DATABASE_URL: must be a postgres:// or postgresql:// URL');
    expect(message).toContain('LOGIN_RATE_LIMIT');
  });

  it('treats an empty variable as unset and reads CORS origins as a list', () => {
    expect(loadConfig({ PORT: '', CORS_ORIGINS: 'https://a.example, https://b.example' })).toMatchObject({
      port: 8000,
      http: { corsOrigins: ['https://a.example', 'https://b.example'] },
    });
    expect(loadConfig({ CORS_ORIGINS: '*' }).http.corsOrigins).toBe('*');
  });
});
