import type { DataSource } from 'typeorm';

export interface ServerInfo {
  /** `SHOW server_version`: 15.18 (Debian 15.18-0+deb12u1), 18.4. */
  version: string;
  /** `SHOW server_version_num`: 150018, 180004. */
  versionNum: number;
  database: string;
}

export async function serverInfo(dataSource: DataSource): Promise<ServerInfo> {
  const [row] = await dataSource.query(
    `SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS version_num, current_database() AS database`,
  );
  return { version: row.version, versionNum: row.version_num, database: row.database };
}
