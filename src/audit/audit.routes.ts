import { PageQuery } from '../http/pagination';
import { defineRoute, type AnyRoute } from '../http/route';
import { SecurityEventPage, toSecurityEventPage } from './audit.dto';
import type { AuditService } from './audit.service';

export function auditRoutes(audit: AuditService): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/users/me/events',
      tag: 'users',
      summary: "The caller's security events, newest first: logins (and failed ones), logouts, password changes, revoked sessions",
      auth: true,
      query: PageQuery,
      success: { status: 200, description: "A page of the caller's security events and the count of all of them", schema: SecurityEventPage },
      handler: async ({ principal, query }) => toSecurityEventPage(await audit.listOwn(principal.userId, query)),
    }),
  ];
}
