import type { MigrationInterface, QueryRunner } from 'typeorm';
import { normaliseEmail } from '../src/users/email';

const MAX_LENGTH = 255;

interface Change {
  id: string;
  email: string;
  normalised: string;
  live: boolean;
}

/**
 * Stores every email in the form the service now stores, compares and looks up: NFKC, then lower
 * case (normaliseEmail). Until now emails were only lower-cased, so `ａｌｉｃｅ@…` (fullwidth) or an
 * NFD spelling could sit beside `alice@…`. The normalisation runs here in JavaScript, with the
 * service's own function, rather than with PostgreSQL's normalize() and lower(): lower() follows the
 * database's locale, and stored values must be exactly what the service computes. (If that
 * function ever changes, a new migration must normalise again.)
 *
 * If normalising would give two live accounts the same email, nothing is changed: the migration
 * fails naming the accounts, for an operator to resolve (change or delete one of each pair) before
 * running it again. Accounts are never merged or renamed silently. Soft-deleted accounts are
 * normalised too; they cannot collide (the unique index covers live accounts only).
 *
 * `down` changes no email back: the original spellings are not kept, and the previous version of
 * the service works with normalised emails as they are (it lower-cases and compares lower(email)).
 * It only restores the column's comment.
 */
export class NormaliseEmails1795470100000 implements MigrationInterface {
  name = 'NormaliseEmails1795470100000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Printable ASCII without upper case is already normalised; only other emails can change.
    const candidates: Array<{ id: string; email: string; live: boolean }> = await queryRunner.query(
      `SELECT id, email, deleted_at IS NULL AS live FROM users
        WHERE octet_length(email) <> char_length(email) OR email <> lower(email)
        FOR UPDATE`,
    );
    const changes: Change[] = candidates.map((row) => ({ ...row, normalised: normaliseEmail(row.email) })).filter((row) => row.normalised !== row.email);
    if (changes.length) {
      refuseTooLong(changes);
      await refuseCollisions(
        queryRunner,
        changes.filter((change) => change.live),
      );
      await queryRunner.query('UPDATE users SET email = c.email FROM unnest($1::uuid[], $2::text[]) AS c(id, email) WHERE users.id = c.id', [
        changes.map((change) => change.id),
        changes.map((change) => change.normalised),
      ]);
    }
    await queryRunner.query(
      "COMMENT ON COLUMN users.email IS 'Login name; stored NFKC-normalised and lower-cased (src/users/email.ts), unique among live users.'",
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("COMMENT ON COLUMN users.email IS 'Login name; stored lower-cased, unique among live users.'");
  }
}

function refuseTooLong(changes: Change[]): void {
  const tooLong = changes.filter((change) => [...change.normalised].length > MAX_LENGTH).map((change) => change.id);
  if (tooLong.length) throw new Error(`the normalised email of account(s) ${tooLong.join(', ')} is longer than ${MAX_LENGTH} characters; change it first`);
}

/** Fails, naming the accounts, if two live accounts would end up with the same email. */
async function refuseCollisions(queryRunner: QueryRunner, liveChanges: Change[]): Promise<void> {
  if (!liveChanges.length) return;
  // Live accounts that keep their email but may equal a changed one (compared as the unique index does, then exactly).
  const unchanged: Array<{ id: string; email: string }> = await queryRunner.query(
    `SELECT id, email FROM users
      WHERE deleted_at IS NULL AND NOT (id = ANY($2::uuid[])) AND lower(email) IN (SELECT lower(e) FROM unnest($1::text[]) AS e)`,
    [liveChanges.map((change) => change.normalised), liveChanges.map((change) => change.id)],
  );
  const accountsByEmail = new Map<string, string[]>();
  for (const { id, email } of [
    ...unchanged.map((row) => ({ id: row.id, email: normaliseEmail(row.email) })),
    ...liveChanges.map((change) => ({ id: change.id, email: change.normalised })),
  ]) {
    accountsByEmail.set(email, [...(accountsByEmail.get(email) ?? []), id]);
  }
  const clashes = [...accountsByEmail.values()].filter((ids) => ids.length > 1);
  if (clashes.length) {
    throw new Error(
      `normalising emails (NFKC, lower case) would give live accounts the same email: ${clashes.map((ids) => `{${ids.join(', ')}}`).join(', ')}. ` +
        'Nothing was changed; change or delete all but one account of each group, then migrate again.',
    );
  }
}
