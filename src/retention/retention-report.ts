import { RETENTION_KINDS, type RetentionKind, type RetentionReport } from './retention.service';

export const KIND_LABELS: Record<RetentionKind, string> = {
  trashed_tasks: 'trashed tasks',
  sessions: 'ended sessions',
  deleted_account_tasks: "deleted accounts' tasks",
  deleted_accounts: 'deleted accounts',
  security_events: 'security events',
};

/** One line: "deleted 3 trashed tasks, 0 ended sessions, … in 41 ms", for the service's log. */
export function summarise(report: RetentionReport): string {
  const counts = RETENTION_KINDS.filter((kind) => report.cutoffs[kind]).map((kind) => `${report.deleted[kind]} ${KIND_LABELS[kind]}`);
  const what = counts.length ? counts.join(', ') : 'nothing (every retention is 0: kept forever)';
  return `${report.dryRun ? 'would delete' : 'deleted'} ${what} in ${report.durationMs} ms${report.interrupted ? ' (stopped early: shutting down)' : ''}`;
}
