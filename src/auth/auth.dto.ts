import { Equals, IsString, MaxLength, MinLength } from 'class-validator';
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

export class RefreshRequest {
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  refresh_token: string;
}

export class Token {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token: string;
}
