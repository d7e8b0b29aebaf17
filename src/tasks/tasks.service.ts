import type { VersionedTask } from './task.entity';
import type { ListTasksQuery, PageQuery, TaskCreate, TaskUpdate } from './tasks.dto';
import { TaskChanged, TaskNotFound } from './tasks.errors';
import type { ExpectedVersions, TaskPageResult, TasksRepository } from './tasks.repository';

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
 */
export class TasksService {
  /** `trashRetentionDays`: TRASH_RETENTION_DAYS, after which the retention job deletes a trashed task; 0 for never. */
  constructor(
    private readonly tasks: TasksRepository,
    private readonly trashRetentionDays: number,
  ) {}

  list(userId: string, query: ListTasksQuery): Promise<TaskPageResult> {
    return this.tasks.listLive(userId, query);
  }

  /** The trash, and when each of its tasks is due to be deleted for good: TRASH_RETENTION_DAYS after it was trashed. */
  async trash(userId: string, query: PageQuery): Promise<TrashPageResult> {
    const { tasks, count } = await this.tasks.listTrashed(userId, query);
    const keptMs = this.trashRetentionDays * DAY_MS;
    return { tasks: tasks.map((task) => ({ task, purgeAt: keptMs && task.deletedAt ? new Date(task.deletedAt.getTime() + keptMs) : null })), count };
  }

  create(userId: string, task: TaskCreate): Promise<VersionedTask> {
    return this.tasks.add(userId, task);
  }

  async get(userId: string, id: string): Promise<VersionedTask> {
    return (await this.tasks.findLive(userId, id)) ?? this.notFound();
  }

  /** PATCH: only the given fields. With nothing to change it is a conditional read. */
  async update(userId: string, id: string, changes: TaskUpdate, versions: ExpectedVersions): Promise<VersionedTask> {
    return (await this.tasks.updateLive(userId, id, changes, versions)) ?? this.missingLive(userId, id, versions);
  }

  /** PUT: every field, the ones not sent back to their defaults. */
  async replace(userId: string, id: string, task: TaskCreate, versions: ExpectedVersions): Promise<VersionedTask> {
    return (await this.tasks.replaceLive(userId, id, task, versions)) ?? this.missingLive(userId, id, versions);
  }

  async softDelete(userId: string, id: string, versions: ExpectedVersions): Promise<void> {
    if (!(await this.tasks.trashLive(userId, id, versions))) await this.missingLive(userId, id, versions);
  }

  async restore(userId: string, id: string): Promise<VersionedTask> {
    return (await this.tasks.restoreTrashed(userId, id)) ?? this.notFound();
  }

  async deletePermanently(userId: string, id: string, versions: ExpectedVersions): Promise<void> {
    if (!(await this.tasks.deleteAny(userId, id, versions))) {
      if (versions && (await this.tasks.existsAny(userId, id))) throw new TaskChanged();
      this.notFound();
    }
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
