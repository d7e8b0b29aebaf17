import { BadRequest, Gone, NotFound, PreconditionFailed, TooManyRequests } from '../errors';

/** No such task among the caller's (another user's task is answered exactly like a missing one). */
export class TaskNotFound extends NotFound {
  constructor() {
    super('Task not found');
  }
}

/** If-Match named versions the task no longer has. */
export class TaskChanged extends PreconditionFailed {
  constructor() {
    super('Precondition Failed: the task has changed since you read it');
  }
}

/** A sync token this service did not issue to the caller: malformed, forged, edited, or another user's. The routes answer 422 naming the field. */
export class InvalidSyncToken extends BadRequest {
  constructor(readonly reason: 'malformed' | 'other_user') {
    super(reason === 'other_user' ? 'The sync token was issued to another user' : 'Not a sync token issued by this service');
  }
}

/** The changes since the token are no longer all kept: only a full sync can bring the client back. */
export class SyncTokenExpired extends Gone {
  constructor() {
    super('The sync token is too old: the changes since it are no longer kept. Start again with a full sync (no sync_token).');
  }
}

/** STREAM_MAX_PER_USER streams are open already, on this process or another. */
export class TooManyStreams extends TooManyRequests {
  constructor(max: number) {
    super(`Too many open streams: at most ${max} per user`, 5);
  }
}
