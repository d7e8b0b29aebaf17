import type { DataSource } from 'typeorm';
import type { PasswordHasher } from '../src/auth/passwords';
import { DEV_USERS, type SeedUser } from './dev-data';

export interface DevSeedResult {
  usersCreated: number;
  tasksCreated: number;
  /** `tasks`: what the user's list shows; `trashed`: what their trash holds. */
  users: Array<Pick<SeedUser, 'email' | 'username' | 'password'> & { tasks: number; trashed: number }>;
}

/**
 * Loads DEV_USERS in one transaction. A user whose email a live user already has is left as it is
 * (its password too); a task is added only if its user has no task (live or trashed) with that title.
 */
export async function seedDevData(dataSource: DataSource, passwords: PasswordHasher): Promise<DevSeedResult> {
  return dataSource.transaction(async (manager) => {
    let usersCreated = 0;
    let tasksCreated = 0;
    const users: DevSeedResult['users'] = [];
    for (const user of DEV_USERS) {
      let [existing] = await manager.query('SELECT id FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL', [user.email]);
      if (!existing) {
        [existing] = await manager.query('INSERT INTO users (email, username, hashed_password) VALUES ($1, $2, $3) RETURNING id', [
          user.email,
          user.username,
          await passwords.hash(user.password),
        ]);
        usersCreated += 1;
      }
      for (const task of user.tasks) {
        const inserted = await manager.query(
          `INSERT INTO tasks (user_id, title, description, completed, due_date, deleted_at)
           SELECT $1::uuid, $2::varchar, $3::text, $4::boolean,
                  CASE WHEN $5::int IS NULL THEN NULL ELSE date_trunc('hour', now()) + make_interval(days => $5::int) END,
                  CASE WHEN $6::boolean THEN now() END
            WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE user_id = $1::uuid AND title = $2::varchar)
           RETURNING id`,
          [existing.id, task.title, task.description ?? null, task.completed ?? false, task.dueInDays ?? null, task.trashed ?? false],
        );
        tasksCreated += inserted.length;
      }
      const trashed = user.tasks.filter((task) => task.trashed).length;
      users.push({ email: user.email, username: user.username, password: user.password, tasks: user.tasks.length - trashed, trashed });
    }
    return { usersCreated, tasksCreated, users };
  });
}

export interface BulkSeedOptions {
  users: number;
  tasksPerUser: number;
  /** Distinguishes this run's users from earlier ones (emails must be unique). */
  tag: string;
  password: string;
  /** Rows per INSERT statement, and how often progress is reported. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface BulkSeedResult {
  users: Array<{ id: string; email: string; username: string }>;
  tasks: number;
  /** True when the secondary indexes of tasks were dropped for the load and built again after it. */
  rebuiltIndexes: boolean;
}

/**
 * Bulk data for benchmarks, generated inside PostgreSQL (INSERT … SELECT generate_series), all in one
 * transaction, so a failure leaves nothing behind. The password is hashed once for all users. Tasks
 * get varied titles, descriptions, completion, due dates (some overdue) and creation times over the
 * past year; one in fifty is in the trash.
 *
 * Keeping nine indexes up to date row by row costs about four fifths of the time; when the load is at
 * least as big as the table, it is faster to drop the secondary indexes and build them once at the
 * end (a sorted build). That happens inside the same transaction, so other sessions never see the
 * table without them (they wait for the lock instead) and a failure restores them.
 */
export async function seedBulk(dataSource: DataSource, passwords: PasswordHasher, options: BulkSeedOptions): Promise<BulkSeedResult> {
  const hashedPassword = await passwords.hash(options.password);
  const total = options.users * options.tasksPerUser;
  const batchSize = options.batchSize ?? 50_000;
  return dataSource.transaction(async (manager) => {
    const [{ estimate }] = await manager.query("SELECT greatest(reltuples, 0)::bigint AS estimate FROM pg_class WHERE oid = 'tasks'::regclass");
    const rebuildIndexes = total >= Number(estimate);
    const indexes: Array<{ name: string; definition: string; comment: string | null }> = rebuildIndexes
      ? await manager.query(
          `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition, obj_description(i.oid, 'pg_class') AS comment
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = 'tasks'::regclass AND NOT x.indisprimary AND NOT x.indisunique`,
        )
      : [];
    for (const index of indexes) await manager.query(`DROP INDEX ${index.name}`);

    const users: BulkSeedResult['users'] = await manager.query(
      `INSERT INTO users (email, username, hashed_password)
       SELECT 'bulk_' || $1 || '_' || i || '@example.com', 'bulk_' || $1 || '_' || i, $2 FROM generate_series(1, $3::int) AS i
       RETURNING id, email, username`,
      [options.tag, hashedPassword, options.users],
    );
    let done = 0;
    for (const user of users) {
      for (let first = 1; first <= options.tasksPerUser; first += batchSize) {
        const last = Math.min(first + batchSize - 1, options.tasksPerUser);
        await manager.query(
          `INSERT INTO tasks (user_id, title, description, completed, due_date, created_at, updated_at, deleted_at)
           SELECT $1, (ARRAY['Buy', 'Call', 'Write', 'Plan', 'Fix', 'Read', 'Review', 'Book', 'Clean', 'Send'])[1 + i % 10]
                      || ' ' || (ARRAY['groceries', 'the report', 'the bank', 'a trip', 'the bike', 'the invoice', 'a book', 'the garage', 'tickets', 'the plan'])[1 + (i / 10) % 10]
                      || ' #' || i,
                  CASE WHEN i % 3 = 0 THEN NULL ELSE 'Details for item ' || i || ': notes, links and a checklist' END,
                  i % 3 = 1,
                  CASE WHEN i % 5 = 0 THEN NULL ELSE date_trunc('day', now()) + ((i::bigint * 7919) % 120 - 40) * interval '1 day' END,
                  now() - (($4::bigint - i) * 31536000 / $4::bigint) * interval '1 second',
                  now() - (($4::bigint - i) * 31536000 / $4::bigint) * interval '1 second',
                  CASE WHEN i % 50 = 0 THEN now() - (i % 30) * interval '1 day' END
             FROM generate_series($2::int, $3::int) AS i`,
          [user.id, first, last, options.tasksPerUser],
        );
        done += last - first + 1;
        options.onProgress?.(done, total);
      }
    }

    if (indexes.length) await manager.query("SET LOCAL maintenance_work_mem = '256MB'");
    for (const index of indexes) {
      await manager.query(index.definition);
      if (index.comment !== null) await manager.query(`COMMENT ON INDEX ${index.name} IS ${quoteLiteral(index.comment)}`);
    }
    return { users, tasks: done, rebuiltIndexes: indexes.length > 0 };
  });
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
