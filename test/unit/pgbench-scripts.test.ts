import fs from 'node:fs';
import path from 'node:path';
import { SESSION_SQL } from '../../src/auth/sessions.repository';
import type { Statement } from '../../src/db/database';
import { TASK_SQL } from '../../src/tasks/tasks.repository';

/*
 * docs/scaling.md takes the primary's limit from pgbench running bench/pgbench/*.sql: those must be
 * the service's own statements, as they are today, with pgbench variables for the parameters.
 */
const script = (name: string) => fs.readFileSync(path.join(__dirname, '../../bench/pgbench', name), 'utf8');

/** The statement on one line, its $n replaced by the pgbench values given. */
function asPgbench(statement: Statement, values: string[]): string {
  return statement.text.replace(/\s+/g, ' ').replace(/\$(\d+)/g, (_match, n: string) => values[Number(n) - 1]);
}

describe('the pgbench scripts of docs/scaling.md', () => {
  const authenticate = asPgbench(SESSION_SQL.authenticate, [':session_id', ':user_id']);

  it('get-by-id.sql runs the session check and the get by id of the service, as they are now', () => {
    expect(script('get-by-id.sql')).toContain(`${authenticate};\n`);
    expect(script('get-by-id.sql')).toContain(`${asPgbench(TASK_SQL.findLive, [':task_id', ':user_id'])};\n`);
  });

  it('create.sql runs the session check and the insert of the service, as they are now', () => {
    expect(script('create.sql')).toContain(`${authenticate};\n`);
    expect(script('create.sql')).toContain(`${asPgbench(TASK_SQL.create, [':user_id', "'pgbench task'", 'NULL', 'false', 'NULL'])};\n`);
  });
});
