import { isUniqueViolation } from '../db/unique-violations';
import type { Database } from '../db/database';
import { purgeStatements } from '../db/purge-statements';
import { User } from './user.entity';
import { EmailTaken, UsernameTaken } from './users.errors';

/*
 * All SQL of the users. None of it is on a hot path (authentication reads the user's ids with the
 * session, in sessions.repository.ts), so it is TypeORM's Repository API and query builder, except
 * the retention job's batched deletes, which lock with SKIP LOCKED (db/purge-statements.ts).
 *
 * Soft delete: TypeORM's find*, query builder selects and softDelete see live users only,
 * implicitly (@DeleteDateColumn); `update` would match a soft-deleted user too, so it is only
 * called with the id of the authenticated (live) caller.
 */

/** Retention: accounts soft-deleted before $1. Deleting one cascades to whatever it still has (sessions, events, its counter). */
const DELETED_BEFORE = purgeStatements('users', 'deleted_at < $1');

/** The unique indexes of users, and what a client is told when a write hits one. */
function translateUniqueViolation(error: unknown): never {
  if (isUniqueViolation(error, 'idx_users_email')) throw new EmailTaken(error);
  if (isUniqueViolation(error, 'idx_users_username')) throw new UsernameTaken(error);
  throw error;
}

/** The users' custom repository (TypeORM's Repository<User>, extended); created once, by the app. */
export function createUsersRepository(database: Database) {
  return database.repository(User).extend({
    async findLive(id: string): Promise<User | null> {
      return this.findOneBy({ id });
    },

    /** The live user whose email or username is `name`, ignoring case (emails are stored normalised, see email.ts). */
    async findLiveByLogin(name: string): Promise<User | null> {
      return this.createQueryBuilder('user').where('(lower(user.email) = lower(:name) OR lower(user.username) = lower(:name))', { name }).getOne();
    },

    /** A new user; EmailTaken or UsernameTaken when a live user has either. */
    async register(fields: Pick<User, 'email' | 'username' | 'hashedPassword'>): Promise<User> {
      try {
        return await this.save(this.create(fields));
      } catch (error) {
        translateUniqueViolation(error);
      }
    },

    async changeDetails(id: string, changes: Partial<Pick<User, 'email' | 'username'>>): Promise<void> {
      try {
        await this.update({ id }, changes);
      } catch (error) {
        translateUniqueViolation(error);
      }
    },

    async setPasswordHash(id: string, hashedPassword: string): Promise<void> {
      await this.update({ id }, { hashedPassword });
    },

    async softDeleteAccount(id: string): Promise<void> {
      await this.softDelete({ id });
    },

    /** Retention: deletes for good up to `limit` accounts soft-deleted before `cutoff`; returns how many went. */
    async purgeDeletedBefore(cutoff: Date, limit: number): Promise<number> {
      return (await database.rows(this.manager, DELETED_BEFORE.purge, [cutoff, limit])).length;
    },

    async countDeletedBefore(cutoff: Date): Promise<number> {
      const [{ count }] = await database.rows<{ count: number }>(this.manager, DELETED_BEFORE.count, [cutoff]);
      return count;
    },
  });
}

export type UsersRepository = ReturnType<typeof createUsersRepository>;
