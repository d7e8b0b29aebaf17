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
    private readonly database: Transactions,
    private readonly passwords: PasswordHasher,
  ) {}

  /**
   * The email is stored normalised (see normaliseEmail), so look-alike spellings of a taken email
   * meet the unique index; the repository answers a taken email or username with EmailTaken or
   * UsernameTaken.
   */
  async signup(request: SignupRequest, abandoned?: AbortSignal): Promise<User> {
    const hashedPassword = await this.passwords.hash(request.password);
    // Hashing is the slow part: if the request was answered (timed out) meanwhile, write nothing.
    abandoned?.throwIfAborted();
    return this.users.register({ email: normaliseEmail(request.email), username: request.username, hashedPassword });
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

  /** Changes the password and signs out every other session of the user, in one transaction. */
  async changePassword(userId: string, sessionId: string, request: UpdatePasswordRequest, abandoned?: AbortSignal): Promise<void> {
    const user = await this.current(userId);
    if (!(await this.passwords.verify(request.current_password, user.hashedPassword))) throw new IncorrectPassword();
    if (request.new_password === request.current_password) throw new SamePassword();
    const hashedPassword = await this.passwords.hash(request.new_password);
    abandoned?.throwIfAborted();
    await this.database.transaction(async (tx) => {
      await tx.use(this.users).setPasswordHash(userId, hashedPassword);
      await tx.use(this.sessions).revokeAllOf(userId, 'password_changed', { except: sessionId });
    });
  }

  /** Soft-deletes the user and their live tasks and revokes every session, all or nothing. */
  async deleteMe(userId: string): Promise<void> {
    await this.database.transaction(async (tx) => {
      await tx.use(this.users).softDeleteAccount(userId);
      await tx.use(this.tasks).trashAllOf(userId);
      await tx.use(this.sessions).revokeAllOf(userId, 'account_deleted');
    });
  }
}
