\set n random(1, :keys)
SELECT user_id, session_id, task_id FROM bench_keys WHERE n = :n \gset
SELECT s.user_id AS "userId", s.id AS "sessionId" FROM sessions s INNER JOIN users u ON u.id = s.user_id WHERE s.id = :session_id AND u.id = :user_id AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active AND u.deleted_at IS NULL;
INSERT INTO tasks (user_id, title, description, completed, due_date) VALUES (:user_id, 'pgbench task', NULL, false, NULL) RETURNING id AS "id", user_id AS "userId", title AS "title", description AS "description", completed AS "completed", due_date AS "dueDate", created_at AS "createdAt", updated_at AS "updatedAt", changed_xid AS "changedXid", deleted_at AS "deletedAt", (extract(epoch FROM updated_at) * 1000000)::bigint::text AS "version";
