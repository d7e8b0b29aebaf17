import type { EventOrigin, SecurityEventsRepository } from '../audit/security-events.repository';
import type { SessionsRepository } from '../auth/sessions.repository';
import type { PasswordHasher } from '../auth/passwords';
import type { Transactions } from '../db/database';
import { NotAuthenticated } from '../errors';
import type { TasksRepository } from '../tasks/tasks.repository';
import { normaliseEmail } from './email';
import type { User } from './user.entity';
import type { SignupRequest, UpdateMeRequest, UpdatePasswordRequest } from './users.dto';
import { IncorrectPassword, SamePassword } from './users.errors';
import type { UsersRepository } from './users.repository';

export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly tasks: TasksRepository,
    private readonly sessions: SessionsRepository,
    private readonly events: SecurityEventsRepository,
    private readonly database: Transactions,
    private readonly passwords: PasswordHasher,
  ) {}

  /**
   * The email is stored normalised (see normaliseEmail), so look-alike spellings of a taken email
   * meet the unique index; the repository answers a taken email or username with EmailTaken or
   * UsernameTaken. The user and its `signup` event are one transaction.
   */
  async signup(request: SignupRequest, origin: EventOrigin, abandoned?: AbortSignal): Promise<User> {
    const hashedPassword = await this.passwords.hash(request.password);
    // Hashing is the slow part: if the request was answered (timed out) meanwhile, write nothing.
    abandoned?.throwIfAborted();
    return this.database.transaction(async (tx) => {
      const user = await tx.use(this.users).register({ email: normaliseEmail(request.email), username: request.username, hashedPassword });
      await tx.use(this.events).record({ type: 'signup', userId: user.id, origin });
      return user;
    });
  }

  /** The authenticated caller. Gone since the request was authenticated (deleted meanwhile): not authenticated. */
  async current(userId: string): Promise<User> {
    const user = await this.users.findLive(userId);
    if (!user) throw new NotAuthenticated();
    return user;
  }

  async updateMe(userId: string, changes: UpdateMeRequest): Promise<User> {
    const updates: Partial<Pick<User, 'email' | 'username'>> = {};
    if (changes.email !== undefined) updates.email = normaliseEmail(changes.email);
    if (changes.username !== undefined) updates.username = changes.username;
    if (Object.keys(updates).length > 0) await this.users.changeDetails(userId, updates);
    return this.current(userId);
  }

  /**
   * Changes the password and signs out every other session of the user, in one transaction with
   * its events: `password_changed`, and `sessions_revoked` with the count when there were others.
   */
  async changePassword(userId: string, sessionId: string, request: UpdatePasswordRequest, origin: EventOrigin, abandoned?: AbortSignal): Promise<void> {
    const user = await this.current(userId);
    if (!(await this.passwords.verify(request.current_password, user.hashedPassword))) throw new IncorrectPassword();
    if (request.new_password === request.current_password) throw new SamePassword();
    const hashedPassword = await this.passwords.hash(request.new_password);
    abandoned?.throwIfAborted();
    await this.database.transaction(async (tx) => {
      await tx.use(this.users).setPasswordHash(userId, hashedPassword);
      const revoked = await tx.use(this.sessions).revokeAllOf(userId, 'password_changed', { except: sessionId });
      await tx.use(this.events).record({ type: 'password_changed', userId, origin, details: { session_id: sessionId } });
      if (revoked > 0) await tx.use(this.events).record({ type: 'sessions_revoked', userId, origin, details: { count: revoked, reason: 'password_changed' } });
    });
  }

  /**
   * Soft-deletes the user and their live tasks and revokes every session, with an `account_deleted`
   * event, all or nothing. The retention job deletes it all for good ACCOUNT_RETENTION_DAYS later.
   */
  async deleteMe(userId: string, origin: EventOrigin): Promise<void> {
    await this.database.transaction(async (tx) => {
      await tx.use(this.users).softDeleteAccount(userId);
      await tx.use(this.tasks).trashAllOf(userId);
      const revoked = await tx.use(this.sessions).revokeAllOf(userId, 'account_deleted');
      await tx.use(this.events).record({ type: 'account_deleted', userId, origin, details: { sessions_revoked: revoked } });
    });
  }
}
