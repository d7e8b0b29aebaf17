import { Client } from 'pg';

/** The part of pg's connection the types leave out: a CopyData message, which is how a standby reports. */
interface CopyConnection {
  sendCopyFromChunk(chunk: Buffer): void;
}

const lsnToBigInt = (lsn: string) => {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
};

/** Microseconds since 2000-01-01, PostgreSQL's epoch. */
const postgresClock = () => BigInt(Date.now() - Date.UTC(2000, 0, 1)) * 1000n;

/**
 * A physical replication connection that behaves like a standby stuck at the position it started
 * from: PostgreSQL lists it in pg_stat_replication under `applicationName` and, once it has
 * reported that position, counts every byte of WAL written since as lag. No second server needed.
 */
export async function startFakeStandby(url: string, applicationName: string): Promise<{ startLsn: string; close(): Promise<void> }> {
  const client = new Client({ connectionString: url, application_name: applicationName, replication: 'true' } as ConstructorParameters<typeof Client>[0]);
  await client.connect();
  const {
    rows: [{ xlogpos: startLsn }],
  } = await client.query('IDENTIFY_SYSTEM');
  // Streams until the connection closes; its end is expected, not an error.
  client.query(`START_REPLICATION PHYSICAL ${startLsn}`).catch(() => undefined);
  client.on('error', () => undefined);

  // Standby status update: written, flushed and replayed up to where it started; no reply wanted.
  const position = lsnToBigInt(startLsn);
  const update = Buffer.alloc(34);
  update.write('r', 0);
  update.writeBigUInt64BE(position, 1);
  update.writeBigUInt64BE(position, 9);
  update.writeBigUInt64BE(position, 17);
  update.writeBigInt64BE(postgresClock(), 25);
  update.writeUInt8(0, 33);
  (client.connection as unknown as CopyConnection).sendCopyFromChunk(update);

  return {
    startLsn,
    close: () => client.end().catch(() => undefined),
  };
}
