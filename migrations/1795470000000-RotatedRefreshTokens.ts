import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hashes of the refresh-token secrets each session has rotated away. A presented token whose
 * secret is one of them was valid once and has been replaced, so it is being replayed and the
 * session is revoked; any other wrong secret only gets 401. Without this table every wrong secret
 * counted as a replay, so anyone who knew a session id (it is no secret: access tokens carry it)
 * could log its user out.
 */
export class RotatedRefreshTokens1795470000000 implements MigrationInterface {
  name = 'RotatedRefreshTokens1795470000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE rotated_refresh_tokens (
        session_id uuid NOT NULL,
        refresh_token_hash varchar(64) NOT NULL,
        rotated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT rotated_refresh_tokens_pkey PRIMARY KEY (session_id, refresh_token_hash),
        CONSTRAINT rotated_refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
      )`);
    await queryRunner.query(
      "COMMENT ON TABLE rotated_refresh_tokens IS 'Hashes of refresh-token secrets a session has rotated away: presenting one again is a replay and revokes the session.'",
    );
    await queryRunner.query("COMMENT ON COLUMN rotated_refresh_tokens.session_id IS 'The session; deleting it deletes its rows (ON DELETE CASCADE).'");
    await queryRunner.query(
      "COMMENT ON COLUMN rotated_refresh_tokens.refresh_token_hash IS 'SHA-256 (hex) of a secret that was the session''s current one until a refresh replaced it; never the secret.'",
    );
    await queryRunner.query("COMMENT ON COLUMN rotated_refresh_tokens.rotated_at IS 'When the refresh that replaced it happened.'");
    await queryRunner.query(
      "COMMENT ON INDEX rotated_refresh_tokens_pkey IS 'Primary key: whether a presented secret was rotated away from the session it names (the replay check), and ON DELETE CASCADE.'",
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE rotated_refresh_tokens');
  }
}
