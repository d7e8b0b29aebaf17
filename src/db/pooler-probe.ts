import crypto from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';

export interface PoolerProbe {
  /**
   * A client's statements may run on different server connections (a pooler in transaction or
   * statement mode, as PgBouncer's pool_mode = transaction): a session-level advisory lock does not
   * last from one statement to the next.
   */
  sharesServerConnections: boolean;
  /**
   * A statement prepared under a name is still there for the client's next transaction: always
   * without such a pooler, and behind one that re-prepares it on whichever server connection it
   * hands out (PgBouncer 1.21+ with max_prepared_statements); not behind PgBouncer 1.18.
   */
  keepsNamedStatements: boolean;
}

/**
 * What the connections of `dataSource` go through, found on two connections of its own (not the
 * pool's, which may hold a single connection). A prepares a statement under a fresh name and runs
 * it (it answers pg_backend_pid(), the server process); B opens a transaction and asks for its own
 * server process; A runs its named statement again while B's transaction is open, as node-postgres
 * does: by name only.
 *
 * On a server connection of its own (direct, or a session-mode pooler), B never has A's server
 * process and A keeps it. A pooler shows itself either way it can: B is given the server process A
 * just released (PgBouncer reuses the most recently released one first), or A, its own now taken,
 * is given another; there, A's named statement fails unless the pooler prepares it again.
 *
 * Never a false alarm: in session mode none of this can happen. It can miss only if, between A's
 * two statements, another client took A's server process and gave it back, and B was given a
 * different one; it does not retry for that.
 */
export async function probePooler(dataSource: DataSource): Promise<PoolerProbe> {
  const options = dataSource.options as { url?: string; extra?: { connectionTimeoutMillis?: number } };
  const connect = async () => {
    const client = new Client({
      connectionString: options.url,
      connectionTimeoutMillis: options.extra?.connectionTimeoutMillis,
      application_name: 'todo-service pooler probe',
    });
    // An error while idle (the server going away) surfaces as the next query's rejection.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  // A name no other probe uses: behind a transaction pooler, it may stay prepared on a server connection.
  const named = { name: `todo_probe_${crypto.randomBytes(8).toString('hex')}`, text: 'SELECT pg_backend_pid() AS pid' };
  const backendPid = async (client: Client, statement: string | typeof named = named.text): Promise<number> => (await client.query(statement)).rows[0].pid;

  const connecting = await Promise.allSettled([connect(), connect()]);
  const opened = connecting.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  try {
    const failed = connecting.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const [a, b] = opened;
    const before = await backendPid(a, named);
    await b.query('BEGIN');
    const other = await backendPid(b);
    const after = await backendPid(a, named).catch((error: { code?: string }) => {
      // 26000: invalid_sql_statement_name, "prepared statement … does not exist".
      if (error.code === '26000') return undefined;
      throw error;
    });
    await b.query('ROLLBACK');
    return { sharesServerConnections: other === before || after !== before, keepsNamedStatements: after !== undefined };
  } finally {
    await Promise.all(opened.map((client) => client.end()));
  }
}
