import { IsNull, Not } from 'typeorm';
import { statement, type Database, type Reader } from '../db/database';
import { purgeStatements } from '../db/purge-statements';
import { Session, type RevokedReason } from './session.entity';

/*
 * All SQL of the sessions (and of their rotated refresh tokens).
 *
 * Authentication runs on every authenticated request, and rotation on every refresh: those
 * statements are written by hand and prepared (see Database.rows). Revocation (logout, password
 * change, account deletion) uses TypeORM's Repository API.
 *
 * Sessions are never soft-deleted: a session counts while revoked_at is NULL and expires_at is
 * ahead, which every statement here spells out. Users are soft-deleted: the hand-written
 * statements that join them say `u.deleted_at IS NULL` themselves.
 */

/** The caller an access token names, once its session and user are checked: what a request's principal is made of. */
export interface SessionOwner extends Reader {
  userId: string;
  sessionId: string;
}

/** The session's own columns and its user's, as the per-request check reads them ($1 session, $2 user). */
const AUTHENTICATE_FROM = `FROM sessions s INNER JOIN users u ON u.id = s.user_id
 WHERE s.id = $1 AND u.id = $2 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active AND u.deleted_at IS NULL`;

export const SESSION_SQL = {
  /**
   * The session the token names ($1), live and unexpired, and its user ($2), live and active: one
   * query on two primary keys, returning only the ids (nothing else of the user is needed per request).
   */
  authenticate: statement(`SELECT s.user_id AS "userId", s.id AS "sessionId"
  ${AUTHENTICATE_FROM}`),

  /**
   * The same check with read replicas: it also returns where the session's last write ended in the
   * WAL, which decides whether a replica may answer its reads. The row is read anyway: no extra
   * round trip, on the primary, so revocation stays immediate.
   */
  authenticateWithLastWrite: statement(`SELECT s.user_id AS "userId", s.id AS "sessionId", s.last_write_lsn AS "lastWriteLsn"
  ${AUTHENTICATE_FROM}`),

  /**
   * With read replicas, after a write of the session's committed: the primary's WAL insert position
   * now, at or past the end of that write's commit record (whatever synchronous_commit says, unlike
   * the flush position). GREATEST keeps it from going back when two writes of one session record
   * out of order.
   *
   * It commits asynchronously (set_config(…, true) lasts for this statement's transaction): it is
   * visible to the next session check at once, and does not wait for a second WAL flush per write
   * (measured: a create with it synchronous took 2.2–3 ms more, asynchronous 0.3–0.5 ms more). The
   * price: a primary crash within about 3 × wal_writer_delay of a write may lose its position (not
   * the write), see the README.
   */
  recordWrite: statement(`UPDATE sessions SET last_write_lsn = GREATEST(last_write_lsn, (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint)
  FROM (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit
 WHERE id = $1`),

  start: statement('INSERT INTO sessions (user_id, refresh_token_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING id'),

  /**
   * The same with read replicas: a new session starts at the primary's WAL insert position, past
   * the commit of every write acknowledged before the login, so its first reads see them all (a
   * device logging in sees what another one wrote just before).
   */
  startAtCurrentPosition: statement(`INSERT INTO sessions (user_id, refresh_token_hash, expires_at, last_write_lsn)
VALUES ($1, $2, now() + make_interval(secs => $3), (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint) RETURNING id`),

  /**
   * Rotation, one atomic statement: replace the current secret's hash ($2) with the new one ($3) if
   * the session is live and its user too, and remember the replaced hash for replay detection. A
   * concurrent refresh with the same token waits for the row lock, then no longer matches.
   */
  rotate: statement(`WITH rotated AS (
       UPDATE sessions AS s SET refresh_token_hash = $3, expires_at = now() + make_interval(secs => $4)
         FROM users AS u
        WHERE s.id = $1 AND s.refresh_token_hash = $2 AND s.revoked_at IS NULL AND s.expires_at > now()
          AND u.id = s.user_id AND u.deleted_at IS NULL AND u.is_active
        RETURNING s.id, s.user_id),
     remembered AS (
       INSERT INTO rotated_refresh_tokens (session_id, refresh_token_hash) SELECT id, $2 FROM rotated)
SELECT user_id AS "userId" FROM rotated`),

  /** A replay: the presented hash ($2) is one the session ($1) rotated away. Only then is the session revoked. */
  revokeReplayed: statement(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh_token_reuse'
 WHERE id = $1 AND revoked_at IS NULL
   AND EXISTS (SELECT 1 FROM rotated_refresh_tokens r WHERE r.session_id = $1 AND r.refresh_token_hash = $2)
 RETURNING user_id AS "userId"`),

  /** Retention: sessions that ended (revoked, or expired: LEAST skips a NULL revoked_at) before $1. Their rotated hashes go by cascade. */
  endedBefore: purgeStatements('sessions', 'LEAST(revoked_at, expires_at) < $1'),
} as const;

/** The sessions' custom repository (TypeORM's Repository<Session>, extended); created once, by the app. */
export function createSessionsRepository(database: Database) {
  const authenticate = database.hasReplicas ? SESSION_SQL.authenticateWithLastWrite : SESSION_SQL.authenticate;
  const start = database.hasReplicas ? SESSION_SQL.startAtCurrentPosition : SESSION_SQL.start;
  return database.repository(Session).extend({
    /** The session and its user, if the session is live and unexpired and the user live and active (with read replicas, and where its last write ended). */
    async findOwner(sessionId: string, userId: string): Promise<SessionOwner | undefined> {
      const [owner] = await database.rows<SessionOwner>(this.manager, authenticate, [sessionId, userId]);
      return owner;
    },

    /** Remembers, after a write of the session's has committed, where in the WAL it ended (read-your-writes on replicas). */
    async recordWrite(sessionId: string): Promise<void> {
      await database.rows(this.manager, SESSION_SQL.recordWrite, [sessionId]);
    },

    /** A new session; returns its id. */
    async start(userId: string, refreshTokenHash: string, ttlSeconds: number): Promise<string> {
      const [{ id }] = await database.rows<{ id: string }>(this.manager, start, [userId, refreshTokenHash, ttlSeconds]);
      return id;
    },

    /** Replaces the current refresh-token hash; returns the session's user, or undefined when the token is not the current one of a live session. */
    async rotate(sessionId: string, presentedHash: string, newHash: string, ttlSeconds: number): Promise<string | undefined> {
      const [rotated] = await database.rows<{ userId: string }>(this.manager, SESSION_SQL.rotate, [sessionId, presentedHash, newHash, ttlSeconds]);
      return rotated?.userId;
    },

    /** Revokes the session if `presentedHash` is one it rotated away; returns its user then. */
    async revokeIfReplayed(sessionId: string, presentedHash: string): Promise<string | undefined> {
      const [revoked] = await database.rows<{ userId: string }>(this.manager, SESSION_SQL.revokeReplayed, [sessionId, presentedHash]);
      return revoked?.userId;
    },

    /** Revokes the session if it is not yet; true when this call revoked it. */
    async revokeOne(sessionId: string, reason: RevokedReason): Promise<boolean> {
      const { affected } = await this.update({ id: sessionId, revokedAt: IsNull() }, { revokedAt: () => 'now()', revokedReason: reason });
      return affected === 1;
    },

    /** Revokes every live session of a user, except one if given; returns how many it revoked. */
    async revokeAllOf(userId: string, reason: RevokedReason, options: { except?: string } = {}): Promise<number> {
      const which = options.except === undefined ? { userId, revokedAt: IsNull() } : { userId, revokedAt: IsNull(), id: Not(options.except) };
      const { affected } = await this.update(which, { revokedAt: () => 'now()', revokedReason: reason });
      return affected ?? 0;
    },

    /** Retention: deletes up to `limit` sessions that ended before `cutoff`; returns how many went. */
    async purgeEndedBefore(cutoff: Date, limit: number): Promise<number> {
      return (await database.rows(this.manager, SESSION_SQL.endedBefore.purge, [cutoff, limit])).length;
    },

    async countEndedBefore(cutoff: Date): Promise<number> {
      const [{ count }] = await database.rows<{ count: number }>(this.manager, SESSION_SQL.endedBefore.count, [cutoff]);
      return count;
    },
  });
}

export type SessionsRepository = ReturnType<typeof createSessionsRepository>;
