import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { User } from '../users/user.entity';

export type RevokedReason = 'logout' | 'password_changed' | 'account_deleted' | 'refresh_token_reuse';

/** One signed-in device: the refresh token's current hash and whether the session still counts. */
@Entity({ name: 'sessions', comment: 'One row per login (device): the refresh token behind it and whether it still counts.' })
@Index('idx_sessions_ended_at', { synchronize: false })
export class Session {
  @PrimaryGeneratedColumn('uuid', {
    comment: 'Primary key; access tokens name it (sid) and refresh tokens start with it.',
    primaryKeyConstraintName: 'sessions_pkey',
  })
  id: string;

  @Index('idx_sessions_user_id')
  @Column({ name: 'user_id', comment: 'Owner; deleting the user for good deletes the sessions (ON DELETE CASCADE).', type: 'uuid' })
  userId: string;

  @ManyToOne('User', { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'sessions_user_id_fkey' })
  user: User;

  @Column({
    name: 'refresh_token_hash',
    comment: 'SHA-256 (hex) of the secret part of the current refresh token; replaced at every refresh.',
    type: 'varchar',
    length: 64,
  })
  refreshTokenHash: string;

  @Column({ name: 'expires_at', comment: 'When the current refresh token stops working; renewed at every refresh.', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'revoked_at', comment: 'When the session was ended; NULL while it is live.', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revoked_reason', comment: 'logout, password_changed, account_deleted or refresh_token_reuse.', type: 'varchar', length: 32, nullable: true })
  revokedReason: RevokedReason | null;

  @CreateDateColumn({ name: 'created_at', comment: 'Login time.', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({
    name: 'last_write_lsn',
    comment:
      "With read replicas: a position in the primary's WAL, in bytes (pg_current_wal_insert_lsn() - '0/0'), read at login and after each write of the session committed; a replica serves the session's reads once it has replayed that far. NULL: none recorded.",
    type: 'bigint',
    nullable: true,
  })
  lastWriteLsn: string | null;

  @UpdateDateColumn({
    name: 'updated_at',
    comment: 'Moved by update_sessions_updated_at on every UPDATE (each refresh; with read replicas, each recorded write too).',
    type: 'timestamptz',
    default: () => 'now()',
  })
  updatedAt: Date;
}
