import type { PageRequest, SecurityEventPageResult, SecurityEventsRepository } from './security-events.repository';

/** What a user may read of the audit trail: their own account's events. (Other features write events through the repository, in their own transactions.) */
export class AuditService {
  constructor(private readonly events: SecurityEventsRepository) {}

  /** The caller's events, newest first. */
  listOwn(userId: string, page: PageRequest): Promise<SecurityEventPageResult> {
    return this.events.listOf(userId, page);
  }
}
