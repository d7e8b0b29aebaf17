import { selectList, statement, type Database } from '../db/database';
import { purgeStatements } from '../db/purge-statements';
import { IP_MAX_LENGTH, SecurityEvent, USER_AGENT_MAX_LENGTH, type SecurityEventType } from './security-event.entity';

/*
 * All SQL of the security events. Other features record events through `record`, on their own
 * transaction (tx.use(events)), so an event commits or rolls back with what it records.
 */

/** Where a request came from, as the HTTP layer saw it. */
export interface EventOrigin {
  ip?: string;
  userAgent?: string;
}

export interface NewSecurityEvent {
  type: SecurityEventType;
  /** The account; null for a failed login whose name matched none. */
  userId: string | null;
  origin: EventOrigin;
  /** Small facts (ids, counts, a reason). Never a password, hash or token. */
  details?: Record<string, unknown>;
}

/** `skip` and `limit` of a page, as the API's PageQuery holds them. */
export interface PageRequest {
  skip: bigint;
  limit: number;
}

export interface SecurityEventPageResult {
  events: SecurityEvent[];
  count: number;
}

export const SECURITY_EVENT_SQL = {
  record: statement('INSERT INTO security_events (user_id, type, ip, user_agent, details) VALUES ($1, $2, $3, $4, $5::jsonb)'),
  /** A user's events newest first; events of one transaction are ordered by clock_timestamp(). */
  pageOf: statement(`SELECT ${selectList(SecurityEvent)} FROM security_events WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`),
  countOf: statement('SELECT count(*)::int AS count FROM security_events WHERE user_id = $1'),
  olderThan: purgeStatements('security_events', 'created_at < $1'),
} as const;

/** Header text is Latin-1 as Node decodes it: one character per byte, so cutting by UTF-16 units cuts no character in two. */
function cut(text: string | undefined, length: number): string | null {
  if (!text) return null;
  return text.length > length ? text.slice(0, length) : text;
}

/** The security events' custom repository (TypeORM's Repository<SecurityEvent>, extended); created once, by the app. */
export function createSecurityEventsRepository(database: Database) {
  return database.repository(SecurityEvent).extend({
    /** Writes one event, in the transaction this repository is bound to (if any). */
    async record(event: NewSecurityEvent): Promise<void> {
      await database.rows(this.manager, SECURITY_EVENT_SQL.record, [
        event.userId,
        event.type,
        cut(event.origin.ip, IP_MAX_LENGTH),
        cut(event.origin.userAgent, USER_AGENT_MAX_LENGTH),
        JSON.stringify(event.details ?? {}),
      ]);
    },

    async listOf(userId: string, page: PageRequest): Promise<SecurityEventPageResult> {
      const [events, [{ count }]] = await Promise.all([
        database.rows(this.manager, SECURITY_EVENT_SQL.pageOf, [userId, page.limit, page.skip], SecurityEvent),
        database.rows<{ count: number }>(this.manager, SECURITY_EVENT_SQL.countOf, [userId]),
      ]);
      return { events, count };
    },

    /** Retention: deletes up to `limit` events older than `cutoff`; returns how many went. */
    async purgeOlderThan(cutoff: Date, limit: number): Promise<number> {
      return (await database.rows(this.manager, SECURITY_EVENT_SQL.olderThan.purge, [cutoff, limit])).length;
    },

    async countOlderThan(cutoff: Date): Promise<number> {
      const [{ count }] = await database.rows<{ count: number }>(this.manager, SECURITY_EVENT_SQL.olderThan.count, [cutoff]);
      return count;
    },
  });
}

export type SecurityEventsRepository = ReturnType<typeof createSecurityEventsRepository>;
