/** The session the token names, live and unexpired, and its user, live and active: one query on two primary keys. */
export const AUTHENTICATE = `SELECT u.id, u.email, u.username, u.hashed_password, u.is_active, u.created_at, u.updated_at
  FROM sessions s INNER JOIN users u ON u.id = s.user_id
 WHERE s.id = $1 AND u.id = $2 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active AND u.deleted_at IS NULL`;
