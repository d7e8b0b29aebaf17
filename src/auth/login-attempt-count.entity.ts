import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** `attempts`: every login from an address (LOGIN_RATE_LIMIT_PER_IP). `failures`: failed logins of an account from an address (LOGIN_RATE_LIMIT). */
export type LoginCounterKind = 'attempts' | 'failures';

/**
 * One login counter in its current one-minute window, shared by every process on the database.
 * The hot statements (count, sweep) are in login-attempts.repository.ts; this maps the table so the
 * schema contract test covers it and a success can clear a counter through TypeORM.
 */
@Entity({
  name: 'login_attempt_counts',
  comment: 'Login rate-limit counters, one per limit and key, each for a fixed one-minute window: shared by every API process.',
})
@Check('login_attempt_counts_account_check', `(kind = 'attempts') = (account = '')`)
@Check('login_attempt_counts_kind_check', `kind IN ('attempts', 'failures')`)
export class LoginAttemptCount {
  @PrimaryColumn({
    name: 'kind',
    comment: 'attempts: every login from the address (LOGIN_RATE_LIMIT_PER_IP); failures: failed logins of the account from the address (LOGIN_RATE_LIMIT).',
    type: 'varchar',
    length: 8,
    primaryKeyConstraintName: 'login_attempt_counts_pkey',
  })
  kind: LoginCounterKind;

  @PrimaryColumn({
    name: 'address',
    comment: 'The client address as the service sees it (TRUST_PROXY decides), at most its first 100 characters.',
    type: 'varchar',
    length: 100,
    primaryKeyConstraintName: 'login_attempt_counts_pkey',
  })
  address: string;

  @PrimaryColumn({
    name: 'account',
    comment: "For failures: user:<id> of the account the login name resolved to, or name:<SHA-256 of the normalised name> when it names none; '' for attempts.",
    type: 'varchar',
    length: 72,
    primaryKeyConstraintName: 'login_attempt_counts_pkey',
  })
  account: string;

  @Column({ name: 'attempts', comment: 'Attempts counted in the current window, refused ones included.', type: 'integer' })
  attempts: number;

  @Index('idx_login_attempt_counts_window_ends_at')
  @Column({ name: 'window_ends_at', comment: 'End of the current window: the next attempt after it starts a new window at 1.', type: 'timestamptz' })
  windowEndsAt: Date;
}
