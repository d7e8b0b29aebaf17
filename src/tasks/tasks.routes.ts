import { parseIfMatch } from '../http/preconditions';
import { Reply } from '../http/reply';
import { defineRoute, type AnyRoute } from '../http/route';
import type { VersionedTask } from './task.entity';
import {
  etagOf,
  ListTasksQuery,
  PageQuery,
  TaskCreate,
  TaskIdParams,
  TaskPage,
  TaskPublic,
  TaskUpdate,
  toTaskPage,
  toTaskPublic,
  toTrashPage,
  TrashPage,
} from './tasks.dto';
import type { TasksService } from './tasks.service';

const ETAG_HEADER = { ETag: 'The task version, for If-Match' };

function withEtag(task: VersionedTask): Reply {
  return new Reply({ body: toTaskPublic(task), headers: { ETag: etagOf(task) } });
}

/** Order matters: `/tasks/trash` must be matched before `/tasks/:id`. */
export function taskRoutes(tasks: TasksService): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/tasks',
      tag: 'tasks',
      summary: "List the caller's tasks: filters, full-text search, sorting and pagination",
      auth: true,
      query: ListTasksQuery,
      success: { status: 200, description: 'A page of tasks and the count of all that match', schema: TaskPage },
      handler: async ({ principal, query }) => toTaskPage(await tasks.list(principal, query)),
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/tasks',
      tag: 'tasks',
      summary: 'Create a task',
      auth: true,
      body: TaskCreate,
      success: { status: 201, description: 'The new task', schema: TaskPublic, headers: { Location: 'The URL of the new task', ...ETAG_HEADER } },
      handler: async ({ principal, body }) => {
        const task = await tasks.create(principal, body);
        return new Reply({ body: toTaskPublic(task), headers: { Location: `/api/v1/tasks/${task.id}`, ETag: etagOf(task) } });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/tasks/trash',
      tag: 'tasks',
      summary: "The caller's soft-deleted tasks, most recently deleted first, each with the time it is deleted for good (purge_at)",
      auth: true,
      query: PageQuery,
      success: { status: 200, description: 'A page of deleted tasks', schema: TrashPage },
      handler: async ({ principal, query }) => toTrashPage(await tasks.trash(principal, query)),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/tasks/:id',
      tag: 'tasks',
      summary: 'Get one task',
      auth: true,
      params: TaskIdParams,
      success: { status: 200, description: 'The task', schema: TaskPublic, headers: ETAG_HEADER },
      errors: [404],
      handler: async ({ principal, params }) => withEtag(await tasks.get(principal, params.id)),
    }),
    defineRoute({
      method: 'patch',
      path: '/api/v1/tasks/:id',
      tag: 'tasks',
      summary: 'Change some fields of a task; fields not sent keep their values',
      auth: true,
      params: TaskIdParams,
      body: TaskUpdate,
      success: { status: 200, description: 'The updated task', schema: TaskPublic, headers: ETAG_HEADER },
      errors: [404, 412],
      handler: async ({ principal, params, body, req }) => withEtag(await tasks.update(principal, params.id, body, parseIfMatch(req.get('If-Match')))),
    }),
    defineRoute({
      method: 'put',
      path: '/api/v1/tasks/:id',
      tag: 'tasks',
      summary: 'Replace a task; fields not sent return to their defaults',
      auth: true,
      params: TaskIdParams,
      body: TaskCreate,
      success: { status: 200, description: 'The replaced task', schema: TaskPublic, headers: ETAG_HEADER },
      errors: [404, 412],
      handler: async ({ principal, params, body, req }) => withEtag(await tasks.replace(principal, params.id, body, parseIfMatch(req.get('If-Match')))),
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/tasks/:id',
      tag: 'tasks',
      summary: 'Move a task to the trash (soft delete)',
      auth: true,
      params: TaskIdParams,
      success: { status: 204, description: 'In the trash' },
      errors: [404, 412],
      handler: ({ principal, params, req }) => tasks.softDelete(principal, params.id, parseIfMatch(req.get('If-Match'))),
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/tasks/:id/restore',
      tag: 'tasks',
      summary: 'Bring a task back from the trash',
      auth: true,
      params: TaskIdParams,
      success: { status: 200, description: 'The restored task', schema: TaskPublic, headers: ETAG_HEADER },
      errors: [404],
      handler: async ({ principal, params }) => withEtag(await tasks.restore(principal, params.id)),
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/tasks/:id/permanent',
      tag: 'tasks',
      summary: 'Delete a task for good, from the list or from the trash',
      auth: true,
      params: TaskIdParams,
      success: { status: 204, description: 'Deleted for good' },
      errors: [404, 412],
      handler: ({ principal, params, req }) => tasks.deletePermanently(principal, params.id, parseIfMatch(req.get('If-Match'))),
    }),
  ];
}
