import { requestOrigin } from '../http/request-origin';
import { defineRoute, type AnyRoute } from '../http/route';
import { LoginRequest, RefreshRequest, Token } from './auth.dto';
import type { AuthService } from './auth.service';

/** Logging in and refreshing. (`/login/test-token` answers the current user, so users.routes.ts defines it.) */
export function loginRoutes(auth: AuthService): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/login/access-token',
      tag: 'login',
      summary: 'Log in with the OAuth2 password flow (form or JSON); username may be the email',
      auth: false,
      body: LoginRequest,
      bodyFormats: ['form', 'json'],
      success: { status: 200, description: 'A new session', schema: Token },
      errors: [400, 429],
      handler: ({ body, req, abandoned }) => auth.login(body.username, body.password, requestOrigin(req), abandoned),
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/login/refresh',
      tag: 'login',
      summary: 'Exchange a refresh token for a new pair; the old refresh token stops working',
      auth: false,
      body: RefreshRequest,
      success: { status: 200, description: 'A new token pair', schema: Token },
      errors: [401],
      handler: ({ body, req }) => auth.refresh(body.refresh_token, requestOrigin(req)),
    }),
  ];
}

export function logoutRoute(auth: AuthService): AnyRoute {
  return defineRoute({
    method: 'post',
    path: '/api/v1/logout',
    tag: 'login',
    summary: "End the caller's session: its access and refresh tokens stop working at once",
    auth: true,
    success: { status: 204, description: 'Logged out' },
    handler: ({ principal, req }) => auth.logout(principal.userId, principal.sessionId, requestOrigin(req)),
  });
}
