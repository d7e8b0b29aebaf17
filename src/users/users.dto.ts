import { IsBoolean, IsEmail, IsString, IsUUID, Matches } from 'class-validator';
import { Optional } from '../http/validation';
import { IsDateTimeWithOffset, MaxLength, MinLength } from '../http/validators';
import { IsAccountEmail } from './email';
import type { User } from './user.entity';

const USERNAME = /^[A-Za-z0-9_.-]{3,100}$/;
const USERNAME_MESSAGE = 'username must be 3-100 characters of letters, digits, "_", "." or "-"';

/** bcrypt stops reading at U+0000: "pass\u0000word" would be stored as "pass". */
// eslint-disable-next-line no-control-regex -- U+0000 is the character this refuses
const WITHOUT_NUL = /^[^\u0000]*$/;
const NoNul = (field: string) => Matches(WITHOUT_NUL, { message: `${field} must not contain U+0000` });

export class SignupRequest {
  @IsEmail({}, { message: 'email must be a valid email address' })
  @IsAccountEmail()
  @MaxLength(255)
  email: string;

  @IsString()
  @Matches(USERNAME, { message: USERNAME_MESSAGE })
  username: string;

  @IsString()
  @MinLength(8)
  @MaxLength(128)
  @NoNul('password')
  password: string;
}

export class UpdateMeRequest {
  @Optional()
  @IsEmail({}, { message: 'email must be a valid email address' })
  @IsAccountEmail()
  @MaxLength(255)
  email?: string;

  @Optional()
  @IsString()
  @Matches(USERNAME, { message: USERNAME_MESSAGE })
  username?: string;
}

export class UpdatePasswordRequest {
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  current_password: string;

  @IsString()
  @MinLength(8)
  @MaxLength(128)
  @NoNul('new_password')
  new_password: string;
}

export class UserPublic {
  @IsUUID('all')
  id: string;

  @IsEmail()
  email: string;

  @IsString()
  username: string;

  @IsBoolean()
  is_active: boolean;

  @IsDateTimeWithOffset()
  created_at: string;

  @IsDateTimeWithOffset()
  updated_at: string;
}

export class Message {
  @IsString()
  message: string;
}

export function toUserPublic(user: User): UserPublic {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    is_active: user.isActive,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}
