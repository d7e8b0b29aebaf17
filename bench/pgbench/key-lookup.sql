\set n random(1, :keys)
SELECT user_id, session_id, task_id FROM bench_keys WHERE n = :n \gset
