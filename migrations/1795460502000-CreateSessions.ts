import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sessions behind refresh tokens. A refresh token is "<session id>.<secret>"; only the SHA-256 of
 * the current secret is stored, so a stolen database does not yield usable tokens, and a token whose
 * session exists but whose secret is not the current one is a rotated (replayed) token.
 */
export class CreateSessions1795460502000 implements MigrationInterface {
  name = 'CreateSessions1795460502000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE sessions (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL,
        refresh_token_hash varchar(64) NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        revoked_reason varchar(32),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT sessions_pkey PRIMARY KEY (id),
        CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      )`);
    await queryRunner.query('CREATE INDEX idx_sessions_user_id ON sessions (user_id)');
    await queryRunner.query('CREATE TRIGGER update_sessions_updated_at BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE sessions');
  }
}
