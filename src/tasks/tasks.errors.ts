import { NotFound, PreconditionFailed } from '../errors';

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
