import type { DataSource } from 'typeorm';
import { revokeSessions } from '../auth/auth.service';
import type { PasswordHasher } from '../auth/passwords';
import { HttpError } from '../http/errors';
import type { Principal } from '../http/route';
import { Task } from '../tasks/task.entity';
import { normaliseEmail } from './email';
import { User } from './user.entity';
import type { SignupRequest, UpdateMeRequest, UpdatePasswordRequest } from './users.dto';

export class UsersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly passwords: PasswordHasher,
  ) {}

  /**
   * The email is stored normalised (see normaliseEmail), so look-alike spellings of a taken email
   * meet the unique index. A taken email or username surfaces as the index's violation, which the
   * error handler answers with 409.
   */
  async signup(request: SignupRequest, abandoned?: AbortSignal): Promise<User> {
    const hashedPassword = await this.passwords.hash(request.password);
    // Hashing is the slow part: if the request was answered (timed out) meanwhile, write nothing.
    abandoned?.throwIfAborted();
    return this.dataSource.getRepository(User).save({
      email: normaliseEmail(request.email),
      username: request.username,
      hashedPassword,
    });
  }

  async updateMe(user: User, changes: UpdateMeRequest): Promise<User> {
    const updates: Partial<User> = {};
    if (changes.email !== undefined) updates.email = normaliseEmail(changes.email);
    if (changes.username !== undefined) updates.username = changes.username;
    if (Object.keys(updates).length === 0) return user;
    const users = this.dataSource.getRepository(User);
    await users.update({ id: user.id }, updates);
    return users.findOneByOrFail({ id: user.id });
  }

  /** Changes the password and signs out every other session of the user. */
  async changePassword(principal: Principal, request: UpdatePasswordRequest, abandoned?: AbortSignal): Promise<void> {
    const { user } = principal;
    if (!(await this.passwords.verify(request.current_password, user.hashedPassword))) throw new HttpError(400, 'Incorrect password');
    if (request.new_password === request.current_password) throw new HttpError(400, 'New password cannot be the same as the current one');
    const hashedPassword = await this.passwords.hash(request.new_password);
    abandoned?.throwIfAborted();
    await this.dataSource.transaction(async (manager) => {
      await manager.update(User, { id: user.id }, { hashedPassword });
      await revokeSessions(manager, { userId: user.id, except: principal.sessionId }, 'password_changed');
    });
  }

  /** Soft-deletes the user and their live tasks and revokes every session, all or nothing. */
  async deleteMe(user: User): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.createQueryBuilder().softDelete().from(User).where('id = :id', { id: user.id }).execute();
      await manager.createQueryBuilder().softDelete().from(Task).where('user_id = :id AND deleted_at IS NULL', { id: user.id }).execute();
      await revokeSessions(manager, { userId: user.id }, 'account_deleted');
    });
  }
}
