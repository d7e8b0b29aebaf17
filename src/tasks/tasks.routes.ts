import { parseIfMatch, weakEtagOf } from '../http/preconditions';
import { EventStream, Reply } from '../http/reply';
import { defineRoute, type AnyRoute } from '../http/route';
import { RequestValidationError, type IssueLocation } from '../http/validation';
import type { TaskStreamsService } from './task-streams.service';
import type { SyncPage, TaskSyncService } from './task-sync.service';
import type { VersionedTask } from './task.entity';
import {
  etagOf,
  ListTasksQuery,
  PageQuery,
  StreamQuery,
  SyncQuery,
  TaskChangePage,
  TaskCreate,
  TaskIdParams,
  TaskPage,
  TaskPublic,
  TaskUpdate,
  toTaskChange,
  toTaskPage,
  toTaskPublic,
  toTrashPage,
  TrashPage,
} from './tasks.dto';
import { InvalidSyncToken } from './tasks.errors';
import type { TasksService } from './tasks.service';

const ETAG_HEADER = { ETag: 'The task version, for If-Match' };
const LIST_ETAG_HEADER = { ETag: 'A weak tag of this page, for If-None-Match' };

/** A sync token the service did not issue to the caller is a 422 naming where it came from. */
async function readingToken<T>(loc: [IssueLocation, string], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InvalidSyncToken) throw new RequestValidationError([{ loc, msg: error.message, type: 'value_error' }]);
    throw error;
  }
}

/**
 * A sync response's weak ETag covers what it says changed, not its token: the token moves with
 * every transaction in the database, the changes only with the caller's. So "nothing new since
 * then" is a 304, and the client keeps the token it sent. The day is in it too, so that a client
 * answered 304 day after day still gets a fresh token, one that does not expire, once a day.
 */
function syncReply(page: SyncPage, token: string): Reply {
  const body: TaskChangePage = {
    data: page.changes.map(({ change }) => toTaskChange(change)),
    sync_token: token,
    has_more: page.hasMore,
    full_sync: page.fullSync,
  };
  const etag = weakEtagOf(JSON.stringify([body.data, body.has_more, body.full_sync, new Date().toISOString().slice(0, 10)]));
  return new Reply({ body, headers: { ETag: etag } });
}

function withEtag(task: VersionedTask): Reply {
  return new Reply({ body: toTaskPublic(task), headers: { ETag: etagOf(task) } });
}

/** Order matters: `/tasks/trash`, `/tasks/sync` and `/tasks/stream` must be matched before `/tasks/:id`. */
export function taskRoutes(tasks: TasksService, sync: TaskSyncService, streams: TaskStreamsService): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/tasks',
      tag: 'tasks',
      summary: "List the caller's tasks: filters, full-text search, sorting and pagination",
      auth: true,
      query: ListTasksQuery,
      ifNoneMatch: 'body',
      success: { status: 200, description: 'A page of tasks and the count of all that match', schema: TaskPage, headers: LIST_ETAG_HEADER },
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
      ifNoneMatch: 'body',
      success: { status: 200, description: 'A page of deleted tasks', schema: TrashPage, headers: LIST_ETAG_HEADER },
      handler: async ({ principal, query }) => toTrashPage(await tasks.trash(principal, query)),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/tasks/sync',
      tag: 'tasks',
      summary: "What changed in the caller's tasks since a sync token, or all of them without one: page by page, deletions included",
      auth: true,
      query: SyncQuery,
      ifNoneMatch: 'handler',
      success: {
        status: 200,
        description: 'A page of changes and the token to call again with (while has_more, for the rest of this round)',
        schema: TaskChangePage,
        headers: { ETag: 'A weak tag of the changes (not of the token): send it in If-None-Match with the next call' },
      },
      errors: [410],
      handler: ({ principal, query }) =>
        readingToken(['query', 'sync_token'], async () => {
          const page = await sync.page(principal.userId, sync.cursorOf(principal.userId, query.sync_token), query.limit);
          return syncReply(page, sync.tokenOf(principal.userId, page.next));
        }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/tasks/stream',
      tag: 'tasks',
      summary: "Server-Sent Events: one per change of the caller's tasks, from any process, with the sync token after it as the event id",
      auth: true,
      query: StreamQuery,
      requestHeaders: { 'Last-Event-ID': 'The id of the last event received (a sync token): resume after it. Takes precedence over sync_token.' },
      streaming: true,
      success: {
        status: 200,
        description:
          'text/event-stream: what was missed, `ready`, then `{"id", "state"}` per change (id: the sync token after it), a heartbeat comment, and `end` with a reason when the service ends it',
        contentType: 'text/event-stream',
      },
      errors: [410, 429],
      handler: async ({ principal, query, req }) => {
        // EventSource sends an empty Last-Event-ID when the last event had none.
        const lastEventId = req.get('Last-Event-ID') || undefined;
        const loc: [IssueLocation, string] = lastEventId === undefined ? ['query', 'sync_token'] : ['header', 'Last-Event-ID'];
        const stream = await readingToken(loc, () => streams.open(principal, lastEventId ?? query.sync_token));
        return new EventStream((writer) => stream.attach(writer));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/tasks/:id',
      tag: 'tasks',
      summary: 'Get one task',
      auth: true,
      params: TaskIdParams,
      ifNoneMatch: 'handler',
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
