import { Client } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Whether the connections of `dataSource` go through a pooler that hands server connections from
 * client to client between transactions (PgBouncer's pool_mode = transaction or statement). Behind
 * one, a named prepared statement or a session-level advisory lock does not survive its
 * transaction.
 *
 * The probe, on two connections of its own (not the pool's, which may hold a single connection):
 * A asks for its server process (pg_backend_pid()) outside any transaction; B opens a transaction
 * and asks for its own; A asks again while B's transaction is open. On a server connection of its
 * own (direct, or a session-mode pooler), B never has A's server process and A keeps it. A pooler
 * shows itself either way it can: B is given the server process A just released (PgBouncer reuses
 * the most recently released one first), or A, its old one now taken, is given another.
 *
 * Never a false alarm: in session mode neither can happen. It can miss only if, between A's two
 * statements, another client took A's server process and gave it back, and B was given a
 * different one; it does not retry for that.
 */
export async function sharesServerConnections(dataSource: DataSource): Promise<boolean> {
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
  const backendPid = async (client: Client): Promise<number> => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;

  const connecting = await Promise.allSettled([connect(), connect()]);
  const opened = connecting.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  try {
    const failed = connecting.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const [a, b] = opened;
    const before = await backendPid(a);
    await b.query('BEGIN');
    const other = await backendPid(b);
    const after = await backendPid(a);
    await b.query('ROLLBACK');
    return other === before || after !== before;
  } finally {
    await Promise.all(opened.map((client) => client.end()));
  }
}
