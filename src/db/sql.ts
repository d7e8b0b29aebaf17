import type { DataSource } from 'typeorm';

/** Rows of any statement (SELECT, or INSERT/UPDATE/DELETE … RETURNING) in one shape. */
export async function queryRows<T>(dataSource: DataSource, text: string, values: unknown[] = []): Promise<T[]> {
  const runner = dataSource.createQueryRunner();
  try {
    const result = await runner.query(text, values, true);
    return result.records as T[];
  } finally {
    await runner.release();
  }
}
