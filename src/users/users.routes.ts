import { requestOrigin } from '../http/request-origin';
import { defineRoute, type AnyRoute } from '../http/route';
import { Message, SignupRequest, toUserPublic, UpdateMeRequest, UpdatePasswordRequest, UserPublic } from './users.dto';
import type { UsersService } from './users.service';

export function userRoutes(users: UsersService): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/users/signup',
      tag: 'users',
      summary: 'Create an account',
      auth: false,
      body: SignupRequest,
      success: { status: 201, description: 'The new user', schema: UserPublic },
      errors: [409],
      handler: async ({ body, req, abandoned }) => toUserPublic(await users.signup(body, requestOrigin(req), abandoned)),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/users/me',
      tag: 'users',
      summary: 'The current user',
      auth: true,
      success: { status: 200, description: 'The current user', schema: UserPublic },
      handler: async ({ principal }) => toUserPublic(await users.current(principal.userId)),
    }),
    defineRoute({
      method: 'patch',
      path: '/api/v1/users/me',
      tag: 'users',
      summary: 'Change the email or the username',
      auth: true,
      body: UpdateMeRequest,
      success: { status: 200, description: 'The updated user', schema: UserPublic },
      errors: [409],
      handler: async ({ principal, body }) => toUserPublic(await users.updateMe(principal.userId, body)),
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/users/me',
      tag: 'users',
      summary: 'Delete the account: the user and their tasks are soft-deleted, every session revoked',
      auth: true,
      success: { status: 204, description: 'Deleted' },
      handler: ({ principal, req }) => users.deleteMe(principal.userId, requestOrigin(req)),
    }),
    defineRoute({
      method: 'patch',
      path: '/api/v1/users/me/password',
      tag: 'users',
      summary: 'Change the password; every other session is revoked',
      auth: true,
      body: UpdatePasswordRequest,
      success: { status: 200, description: 'Password changed', schema: Message },
      errors: [400],
      handler: async ({ principal, body, req, abandoned }) => {
        await users.changePassword(principal.userId, principal.sessionId, body, requestOrigin(req), abandoned);
        return { message: 'Password updated successfully' };
      },
    }),
  ];
}

/**
 * `/login/test-token` (tag `login`): it answers the current user, a UserPublic, so it is defined
 * here with the users' DTOs rather than in auth.routes.ts; the app places it among the login routes.
 */
export function testTokenRoute(users: UsersService): AnyRoute {
  return defineRoute({
    method: 'post',
    path: '/api/v1/login/test-token',
    tag: 'login',
    summary: 'Check an access token',
    auth: true,
    success: { status: 200, description: 'The user the token belongs to', schema: UserPublic },
    handler: async ({ principal }) => toUserPublic(await users.current(principal.userId)),
  });
}
