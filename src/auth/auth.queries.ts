/** The session the token names, live and unexpired, and its user, live and active: one query on two primary keys. */
export const AUTHENTICATE = `SELECT u.id, u.email, u.username, u.hashed_password, u.is_active, u.created_at, u.updated_at
  FROM sessions s INNER JOIN users u ON u.id = s.user_id
 WHERE s.id = $1 AND u.id = $2 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active AND u.deleted_at IS NULL`;

/**
 * Rotation, one atomic statement: replace the current secret's hash ($2) with the new one ($3) if
 * the session is live and its user too, and remember the replaced hash for replay detection. A
 * concurrent refresh with the same token waits for the row lock, then no longer matches.
 */
export const ROTATE_REFRESH_TOKEN = `WITH rotated AS (
       UPDATE sessions AS s SET refresh_token_hash = $3, expires_at = now() + make_interval(secs => $4)
         FROM users AS u
        WHERE s.id = $1 AND s.refresh_token_hash = $2 AND s.revoked_at IS NULL AND s.expires_at > now()
          AND u.id = s.user_id AND u.deleted_at IS NULL AND u.is_active
        RETURNING s.id, s.user_id),
     remembered AS (
       INSERT INTO rotated_refresh_tokens (session_id, refresh_token_hash) SELECT id, $2 FROM rotated)
SELECT user_id FROM rotated`;

/** A replay: the presented hash ($2) is one the session ($1) rotated away. Only then is the session revoked. */
export const REVOKE_REPLAYED_SESSION = `UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh_token_reuse'
 WHERE id = $1 AND revoked_at IS NULL
   AND EXISTS (SELECT 1 FROM rotated_refresh_tokens r WHERE r.session_id = $1 AND r.refresh_token_hash = $2)
 RETURNING user_id`;
