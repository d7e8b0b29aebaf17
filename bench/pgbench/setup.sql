-- For pgbench: one session per bulk-seeded user, and bench_keys, numbering every live task with its
-- owner and that owner's session, so a script picks a random caller and task with one lookup
-- (pgbench variables are numbers; the service's keys are UUIDs).
INSERT INTO sessions (user_id, refresh_token_hash, expires_at) SELECT id, md5(id::text), now() + interval '7 days' FROM users;
DROP TABLE IF EXISTS bench_keys;
CREATE TABLE bench_keys AS
  SELECT (row_number() OVER (ORDER BY t.id))::int AS n, t.user_id, s.id AS session_id, t.id AS task_id
    FROM tasks t JOIN sessions s ON s.user_id = t.user_id WHERE t.deleted_at IS NULL;
ALTER TABLE bench_keys ADD PRIMARY KEY (n);
VACUUM ANALYZE;
