import type { SessionOwner } from '../auth/sessions.repository';
import type { VersionedTask } from './task.entity';
import type { ListTasksQuery, PageQuery, TaskCreate, TaskUpdate } from './tasks.dto';
import { TaskChanged, TaskNotFound } from './tasks.errors';
import type { ExpectedVersions, TaskPageResult, TasksRepository } from './tasks.repository';

/** Where each session's last write is remembered, so that its reads from a replica include it (read replicas only). */
export interface WritePositions {
  recordWrite(sessionId: string): Promise<void>;
}

const DAY_MS = 86_400_000;

/** The trash: its tasks, each with the moment the retention job may delete it for good (null: kept until deleted by hand). */
export interface TrashPageResult {
  tasks: Array<{ task: VersionedTask; purgeAt: Date | null }>;
  count: number;
}

/**
 * The task rules: a task is the caller's or it does not exist (404, whoever owns it); a write with
 * expected versions (If-Match) that match no more answers 412 while the task is there, 404 when
 * it is not.
 *
 * With read replicas (`writePositions` given), the caller's reads (get, list, trash) may come from
 * a replica, and every write that changed a task records, once committed and before it is
 * answered, where it ended in the WAL: the caller's next reads then go to a replica only if it has
 * replayed that far. A write that changed nothing (404, 412) records nothing.
 */
export class TasksService {
  /**
   * `trashRetentionDays`: TRASH_RETENTION_DAYS, after which the retention job deletes a trashed task; 0 for never.
   * `writePositions`: given with read replicas only.
   */
  constructor(
    private readonly tasks: TasksRepository,
    private readonly trashRetentionDays: number,
    private readonly writePositions?: WritePositions,
  ) {}

  list(caller: SessionOwner, query: ListTasksQuery): Promise<TaskPageResult> {
    return this.tasks.listLive(caller.userId, query, caller);
  }

  /** The trash, and when each of its tasks is due to be deleted for good: TRASH_RETENTION_DAYS after it was trashed. */
  async trash(caller: SessionOwner, query: PageQuery): Promise<TrashPageResult> {
    const { tasks, count } = await this.tasks.listTrashed(caller.userId, query, caller);
    const keptMs = this.trashRetentionDays * DAY_MS;
    return { tasks: tasks.map((task) => ({ task, purgeAt: keptMs && task.deletedAt ? new Date(task.deletedAt.getTime() + keptMs) : null })), count };
  }

  create(caller: SessionOwner, task: TaskCreate): Promise<VersionedTask> {
    const created = this.tasks.add(caller.userId, task);
    if (!this.writePositions) return created;
    return created.then(async (createdTask) => {
      await this.recordWrite(caller);
      return createdTask;
    });
  }

  async get(caller: SessionOwner, id: string): Promise<VersionedTask> {
    return (await this.tasks.findLive(caller.userId, id, caller)) ?? this.notFound();
  }

  /** PATCH: only the given fields. With nothing to change it is a conditional read. */
  async update(caller: SessionOwner, id: string, changes: TaskUpdate, versions: ExpectedVersions): Promise<VersionedTask> {
    const updated = await this.tasks.updateLive(caller.userId, id, changes, versions);
    if (!updated) return this.missingLive(caller.userId, id, versions);
    if (this.writePositions) await this.recordWrite(caller);
    return updated;
  }

  /** PUT: every field, the ones not sent back to their defaults. */
  async replace(caller: SessionOwner, id: string, task: TaskCreate, versions: ExpectedVersions): Promise<VersionedTask> {
    const replaced = await this.tasks.replaceLive(caller.userId, id, task, versions);
    if (!replaced) return this.missingLive(caller.userId, id, versions);
    if (this.writePositions) await this.recordWrite(caller);
    return replaced;
  }

  async softDelete(caller: SessionOwner, id: string, versions: ExpectedVersions): Promise<void> {
    if (!(await this.tasks.trashLive(caller.userId, id, versions))) return this.missingLive(caller.userId, id, versions);
    if (this.writePositions) await this.recordWrite(caller);
  }

  async restore(caller: SessionOwner, id: string): Promise<VersionedTask> {
    const restored = await this.tasks.restoreTrashed(caller.userId, id);
    if (!restored) return this.notFound();
    if (this.writePositions) await this.recordWrite(caller);
    return restored;
  }

  async deletePermanently(caller: SessionOwner, id: string, versions: ExpectedVersions): Promise<void> {
    if (!(await this.tasks.deleteAny(caller.userId, id, versions))) {
      if (versions && (await this.tasks.existsAny(caller.userId, id))) throw new TaskChanged();
      this.notFound();
    }
    if (this.writePositions) await this.recordWrite(caller);
  }

  /**
   * A write of the caller's has committed: record where it ended, before it is answered (read
   * replicas only; callers check `writePositions`, so a single node pays not even a call). If that
   * fails the write stands but is answered with the error (503 when the database is unreachable),
   * as when an answer is lost: a write is never acknowledged without read-your-writes.
   */
  private recordWrite(caller: SessionOwner): Promise<void> {
    return this.writePositions!.recordWrite(caller.sessionId);
  }

  /** A conditional write on a live task matched nothing: a second look only decides between 412 and 404. */
  private async missingLive(userId: string, id: string, versions: ExpectedVersions): Promise<never> {
    if (versions && (await this.tasks.existsLive(userId, id))) throw new TaskChanged();
    return this.notFound();
  }

  private notFound(): never {
    throw new TaskNotFound();
  }
}
