import { Type } from 'class-transformer';
import { IsArray, IsBoolean, IsIn, IsInt, IsString, IsUUID, Max, Min, ValidateNested } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { PageQuery } from '../http/pagination';
import { Nullable, Optional, OptionalOrNull } from '../http/validation';
import { IsDateTimeWithOffset, MaxLength, MinLength, QueryBoolean, QueryInteger, Trimmed } from '../http/validators';
import type { VersionedTask } from './task.entity';
import type { TaskPageResult } from './tasks.repository';
import type { SyncChange } from './task-sync.service';
import type { TrashPageResult } from './tasks.service';

// The tasks' modules name it from here: services and repositories import nothing from src/http.
export { PageQuery };

export const SORT_KEYS = ['created_at', '-created_at', 'updated_at', '-updated_at', 'due_date', '-due_date', 'title', '-title'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export class TaskIdParams {
  @IsUUID('all', { message: 'id must be a UUID' })
  id: string;
}

/** POST and PUT: fields not sent take their defaults. */
export class TaskCreate {
  @Trimmed()
  @IsString()
  @MinLength(1, { message: 'title must not be empty' })
  @MaxLength(200)
  title: string;

  @OptionalOrNull()
  @IsString()
  @MaxLength(10000)
  description: string | null = null;

  @Optional()
  @IsBoolean()
  completed: boolean = false;

  @OptionalOrNull()
  @IsDateTimeWithOffset()
  due_date: string | null = null;
}

/** PATCH: only the fields sent change; `title` and `completed` cannot be null. */
export class TaskUpdate {
  @Optional()
  @Trimmed()
  @IsString()
  @MinLength(1, { message: 'title must not be empty' })
  @MaxLength(200)
  title?: string;

  @OptionalOrNull()
  @IsString()
  @MaxLength(10000)
  description?: string | null;

  @Optional()
  @IsBoolean()
  completed?: boolean;

  @OptionalOrNull()
  @IsDateTimeWithOffset()
  due_date?: string | null;
}

export class ListTasksQuery extends PageQuery {
  @Optional()
  @QueryBoolean()
  @IsBoolean({ message: 'completed must be true or false' })
  completed?: boolean;

  @Optional()
  @IsDateTimeWithOffset()
  due_before?: string;

  @Optional()
  @IsDateTimeWithOffset()
  due_after?: string;

  @Optional()
  @IsString()
  @MaxLength(500)
  q?: string;

  @Optional()
  @IsIn(SORT_KEYS, { message: `sort must be one of ${SORT_KEYS.join(', ')}` })
  sort: SortKey = '-created_at';
}

export class TaskPublic {
  @IsUUID('all')
  id: string;

  @IsUUID('all')
  user_id: string;

  @IsString()
  @MaxLength(200)
  title: string;

  @Nullable()
  @IsString()
  description: string | null;

  @IsBoolean()
  completed: boolean;

  @Nullable()
  @IsDateTimeWithOffset()
  due_date: string | null;

  @IsDateTimeWithOffset()
  created_at: string;

  @IsDateTimeWithOffset()
  updated_at: string;
}

export class TaskPage {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => TaskPublic)
  data: TaskPublic[];

  /** All tasks matching the filters, ignoring skip and limit. */
  @IsInt()
  @Min(0)
  count: number;
}

export class SyncQuery {
  @Optional()
  @IsString()
  @JSONSchema({ description: 'The sync_token of the previous response; absent or `*` for a full sync.' })
  sync_token?: string;

  @Optional()
  @QueryInteger()
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(1000)
  limit: number = 500;
}

export class StreamQuery {
  @Optional()
  @IsString()
  @JSONSchema({ description: 'Start after this sync token (a Last-Event-ID header takes precedence); absent: from now on.' })
  sync_token?: string;
}

const CHANGE_STATES = ['live', 'trashed'] as const;

/** A task that exists, in the list (`live`) or in the trash (`trashed`, since `deleted_at`). */
export class TaskChange extends TaskPublic {
  @IsIn(CHANGE_STATES)
  state: (typeof CHANGE_STATES)[number];

  @Nullable()
  @IsDateTimeWithOffset()
  deleted_at: string | null;
}

/** A task deleted for good (permanently, or by a purge) at `deleted_at`: only its id and owner are left. */
export class TaskDeletion {
  @IsUUID('all')
  id: string;

  @IsUUID('all')
  user_id: string;

  @IsIn(['deleted'])
  state: 'deleted';

  @IsDateTimeWithOffset()
  deleted_at: string;
}

const CHANGE_SCHEMAS = { TaskChange: '#/components/schemas/TaskChange', TaskDeletion: '#/components/schemas/TaskDeletion' };

export class TaskChangePage {
  /** Each task at most once, in the order of the transactions that changed them. */
  @IsArray()
  @ValidateNested({ each: true })
  // Replaces what class-validator-jsonschema makes of an array (a $ref to "Array") with the union.
  @JSONSchema(() => ({
    type: 'array',
    items: {
      oneOf: [{ $ref: CHANGE_SCHEMAS.TaskChange }, { $ref: CHANGE_SCHEMAS.TaskDeletion }],
      discriminator: {
        propertyName: 'state',
        mapping: { live: CHANGE_SCHEMAS.TaskChange, trashed: CHANGE_SCHEMAS.TaskChange, deleted: CHANGE_SCHEMAS.TaskDeletion },
      },
    },
  }))
  data: Array<TaskChange | TaskDeletion>;

  /** Where the next call starts: the rest of this round while has_more, then the changes after it. */
  @IsString()
  sync_token: string;

  @IsBoolean()
  has_more: boolean;

  /** True for the pages of a full sync: every task, not only changes. */
  @IsBoolean()
  full_sync: boolean;
}

/** A task in the trash: a TaskPublic, and when the retention job may delete it for good. */
export class TrashedTaskPublic extends TaskPublic {
  /** deleted_at + TRASH_RETENTION_DAYS; null when trashed tasks are kept until deleted by hand (TRASH_RETENTION_DAYS=0). */
  @Nullable()
  @IsDateTimeWithOffset()
  purge_at: string | null;
}

export class TrashPage {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => TrashedTaskPublic)
  data: TrashedTaskPublic[];

  /** All tasks in the trash, ignoring skip and limit. */
  @IsInt()
  @Min(0)
  count: number;
}

/* The one place where tasks become what the API sends. */

export function toTaskPublic(task: VersionedTask): TaskPublic {
  return {
    id: task.id,
    user_id: task.userId,
    title: task.title,
    description: task.description,
    completed: task.completed,
    due_date: task.dueDate ? task.dueDate.toISOString() : null,
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
  };
}

export function toTaskChange(change: SyncChange): TaskChange | TaskDeletion {
  if (change.state === 'deleted') return { id: change.id, user_id: change.userId, state: 'deleted', deleted_at: change.deletedAt.toISOString() };
  const { task } = change;
  return { ...toTaskPublic(task), state: change.state, deleted_at: task.deletedAt ? task.deletedAt.toISOString() : null };
}

export function toTaskPage({ tasks, count }: TaskPageResult): TaskPage {
  return { data: tasks.map(toTaskPublic), count };
}

export function toTrashPage({ tasks, count }: TrashPageResult): TrashPage {
  return { data: tasks.map(({ task, purgeAt }) => ({ ...toTaskPublic(task), purge_at: purgeAt ? purgeAt.toISOString() : null })), count };
}

/** The ETag of a task: its version, as a strong tag. */
export function etagOf(task: VersionedTask): string {
  return `"${task.version}"`;
}
