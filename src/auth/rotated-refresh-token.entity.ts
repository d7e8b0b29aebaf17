import { CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Session } from './session.entity';

/** A refresh-token secret a session used to have: presenting it again is a replay. Only its hash is kept. */
@Entity({
  name: 'rotated_refresh_tokens',
  comment: 'Hashes of refresh-token secrets a session has rotated away: presenting one again is a replay and revokes the session.',
})
export class RotatedRefreshToken {
  @PrimaryColumn({
    name: 'session_id',
    comment: 'The session; deleting it deletes its rows (ON DELETE CASCADE).',
    type: 'uuid',
    primaryKeyConstraintName: 'rotated_refresh_tokens_pkey',
  })
  sessionId: string;

  @PrimaryColumn({
    name: 'refresh_token_hash',
    comment: "SHA-256 (hex) of a secret that was the session's current one until a refresh replaced it; never the secret.",
    type: 'varchar',
    length: 64,
    primaryKeyConstraintName: 'rotated_refresh_tokens_pkey',
  })
  refreshTokenHash: string;

  @ManyToOne('Session', { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'session_id', foreignKeyConstraintName: 'rotated_refresh_tokens_session_id_fkey' })
  session: Session;

  @CreateDateColumn({ name: 'rotated_at', comment: 'When the refresh that replaced it happened.', type: 'timestamptz', default: () => 'now()' })
  rotatedAt: Date;
}
