import { Equals, IsInt, IsString, Min } from 'class-validator';
import { MaxLength, MinLength } from '../http/validators';
import { Optional } from '../http/validation';

/**
 * The OAuth2 password form (as FastAPI's OAuth2PasswordRequestForm), accepted as a form or as JSON.
 * `username` is the email or the username. The OAuth2 extras are accepted so standard clients
 * (Swagger UI's "Authorize") work; `scope` and the client credentials are not used.
 */
export class LoginRequest {
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  username: string;

  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password: string;

  @Optional()
  @Equals('password', { message: 'grant_type must be "password"' })
  grant_type?: string;

  @Optional()
  @IsString()
  scope?: string;

  @Optional()
  @IsString()
  client_id?: string;

  @Optional()
  @IsString()
  client_secret?: string;
}

/** Any string: one that is not a refresh token of ours, whatever its length, is a 401 like any other invalid token. */
export class RefreshRequest {
  @IsString()
  refresh_token: string;
}

export class Token {
  @IsString()
  access_token: string;

  @Equals('bearer')
  token_type: 'bearer';

  /** Seconds until the access token expires. */
  @IsInt()
  @Min(1)
  expires_in: number;

  @IsString()
  refresh_token: string;
}
