import { BadRequest, Conflict } from '../errors';

export class EmailTaken extends Conflict {
  constructor(cause?: unknown) {
    super('The email is already registered', cause);
  }
}

export class UsernameTaken extends Conflict {
  constructor(cause?: unknown) {
    super('The username is already taken', cause);
  }
}

export class IncorrectPassword extends BadRequest {
  constructor() {
    super('Incorrect password');
  }
}

export class SamePassword extends BadRequest {
  constructor() {
    super('New password cannot be the same as the current one');
  }
}
