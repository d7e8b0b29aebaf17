import { Type } from 'class-transformer';
import { IsArray, IsBoolean, IsIn, IsInt, IsString, IsUUID, Min, ValidateNested } from 'class-validator';
import { PageQuery } from '../http/pagination';
import { Nullable, Optional, OptionalOrNull } from '../http/validation';
import { IsDateTimeWithOffset, MaxLength, MinLength, QueryBoolean, Trimmed } from '../http/validators';
import type { VersionedTask } from './task.entity';
import type { TaskPageResult } from './tasks.repository';
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
