import { BadRequest, ServiceUnavailable, TooManyRequests } from '../errors';

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

/** The login's attempts could not be counted (the database is down or too slow): the login is refused, never let through unchecked. */
export class LoginCountingUnavailable extends ServiceUnavailable {
  constructor(cause: unknown) {
    super('Login attempts cannot be counted right now; try again later', cause);
  }
}
