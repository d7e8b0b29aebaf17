import { BadRequest, TooManyRequests } from '../errors';

/** Unknown user and wrong password alike, so the answer does not tell which names exist. */
export class IncorrectCredentials extends BadRequest {
  constructor() {
    super('Incorrect email or password');
  }
}

export class InactiveUser extends BadRequest {
  constructor() {
    super('Inactive user');
  }
}

export class TooManyLoginAttempts extends TooManyRequests {
  constructor(retryAfterSeconds: number) {
    super('Too many login attempts; try again later', retryAfterSeconds);
  }
}
