import crypto from 'node:crypto';
import os from 'node:os';
import type { SecurityEventsRepository } from '../audit/security-events.repository';
import type { SessionsRepository } from '../auth/sessions.repository';
import type { Config } from '../config';
import type { Transaction, Transactions } from '../db/database';
import type { TasksRepository } from '../tasks/tasks.repository';
import type { UsersRepository } from '../users/users.repository';
import type { MaintenanceRunsRepository } from './maintenance-runs.repository';

const DAY_MS = 86_400_000;

/** The row in maintenance_runs this job claims. */
export const RETENTION_JOB = 'retention';

/**
 * How long a claim holds without renewal. Every batch renews it, and a batch is a few statements
 * each bounded by DB_STATEMENT_TIMEOUT_MS, so only a holder that died (or hangs) lets it run out;
 * another process may then take the job over.
 */
export const LEASE_SECONDS = 120;

/** What the job deletes, in the order it runs. */
export const RETENTION_KINDS = ['trashed_tasks', 'sessions', 'deleted_account_tasks', 'deleted_accounts', 'security_events'] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

export interface RetentionReport {
  /** False when another process holds the job, or (for the timer) ran it moments ago: nothing was done. */
  ran: boolean;
  dryRun: boolean;
  /** Rows older than this are deleted (counted in a dry run), per kind; a kind kept forever (0 days) has none. */
  cutoffs: Partial<Record<RetentionKind, Date>>;
  /** Rows deleted per kind; in a dry run, rows that would be. */
  deleted: Record<RetentionKind, number>;
  /** Transactions that deleted something, per kind. */
  batches: Record<RetentionKind, number>;
  /** True when the run stopped early because it was asked to (the service is shutting down): the rest waits for the next run. */
  interrupted: boolean;
  durationMs: number;
  /** Who held the job when this run could not take it. */
  heldBy?: string | null;
}

/** Another process took the job over while this run was stalled (its lease ran out); this run stops. */
export class RetentionLeaseLost extends Error {
  constructor() {
    super('the retention job was taken over by another process (this run stalled past its lease); stopped');
  }
}

interface Step {
  kind: RetentionKind;
  days: number;
  /** `cutoffs`: every kind's, for a rule that must leave another's rows alone. */
  purge(tx: Transaction, cutoff: Date, limit: number, cutoffs: RetentionReport['cutoffs']): Promise<number>;
  count(cutoff: Date, cutoffs: RetentionReport['cutoffs']): Promise<number>;
}

export interface RunOptions {
  /** Count what would be deleted; delete nothing (and claim nothing). */
  dryRun?: boolean;
  /** Skip the run if one finished less than this long ago (the timer: one run per interval across every process). 0: run anyway. */
  notWithinMs?: number;
  /** Aborting it stops the run between two batches. */
  signal?: AbortSignal;
}

/**
 * Retention: deletes for good what has been deleted, or has ended, for longer than its limit:
 * tasks in the trash (TRASH_RETENTION_DAYS), sessions after they were revoked or expired
 * (SESSION_RETENTION_DAYS), soft-deleted accounts with everything they still own
 * (ACCOUNT_RETENTION_DAYS), and security events (AUDIT_RETENTION_DAYS). 0 days keeps that kind forever.
 *
 * One process at a time runs it (the claim in maintenance_runs), in batches of RETENTION_BATCH_SIZE
 * rows, each its own short transaction that also renews the claim, so no lock is held for long and
 * a crash loses at most one batch's work. The rows of a batch are picked with SKIP LOCKED: a row a
 * request is writing at that moment is left for the next run.
 */
export class RetentionService {
  private readonly steps: Step[];

  constructor(
    private readonly settings: Config['retention'],
    repositories: { tasks: TasksRepository; sessions: SessionsRepository; users: UsersRepository; events: SecurityEventsRepository },
    private readonly runs: MaintenanceRunsRepository,
    private readonly database: Transactions,
    private readonly now: () => Date = () => new Date(),
  ) {
    const { tasks, sessions, users, events } = repositories;
    this.steps = [
      {
        kind: 'trashed_tasks',
        days: settings.trashDays,
        purge: (tx, cutoff, limit) => tx.use(tasks).purgeTrashed({ trashedBefore: cutoff }, limit),
        count: (cutoff) => tasks.countTrashed({ trashedBefore: cutoff }),
      },
      {
        kind: 'sessions',
        days: settings.sessionDays,
        purge: (tx, cutoff, limit) => tx.use(sessions).purgeEndedBefore(cutoff, limit),
        count: (cutoff) => sessions.countEndedBefore(cutoff),
      },
      {
        // An account's tasks first, in batches, so that deleting the account itself stays small;
        // those the trash's own rule takes are left to it.
        kind: 'deleted_account_tasks',
        days: settings.accountDays,
        purge: (tx, cutoff, limit, cutoffs) =>
          tx.use(tasks).purgeTrashed({ ofAccountsDeletedBefore: cutoff, trashedSince: cutoffs.trashed_tasks ?? null }, limit),
        count: (cutoff, cutoffs) => tasks.countTrashed({ ofAccountsDeletedBefore: cutoff, trashedSince: cutoffs.trashed_tasks ?? null }),
      },
      {
        kind: 'deleted_accounts',
        days: settings.accountDays,
        purge: (tx, cutoff, limit) => tx.use(users).purgeDeletedBefore(cutoff, limit),
        count: (cutoff) => users.countDeletedBefore(cutoff),
      },
      {
        kind: 'security_events',
        days: settings.auditDays,
        purge: (tx, cutoff, limit) => tx.use(events).purgeOlderThan(cutoff, limit),
        count: (cutoff) => events.countOlderThan(cutoff),
      },
    ];
  }

  async run({ dryRun = false, notWithinMs = 0, signal }: RunOptions = {}): Promise<RetentionReport> {
    const started = performance.now();
    const now = this.now().getTime();
    const report: RetentionReport = {
      ran: true,
      dryRun,
      cutoffs: {},
      deleted: zeroPerKind(),
      batches: zeroPerKind(),
      interrupted: false,
      durationMs: 0,
    };
    const steps = this.steps.filter((step) => step.days > 0);
    for (const step of steps) report.cutoffs[step.kind] = new Date(now - step.days * DAY_MS);
    const finish = () => ({ ...report, durationMs: Math.round(performance.now() - started) });

    if (dryRun) {
      for (const step of steps) report.deleted[step.kind] = await step.count(report.cutoffs[step.kind]!, report.cutoffs);
      return finish();
    }

    const holder = holderName();
    if (!(await this.runs.claim(RETENTION_JOB, holder, LEASE_SECONDS, notWithinMs / 1000))) {
      return { ...finish(), ran: false, heldBy: (await this.runs.current(RETENTION_JOB))?.holder ?? null };
    }
    try {
      for (const step of steps) {
        if (await this.purgeAll(step, report, holder, signal)) break;
      }
    } catch (error) {
      // Give the job back unless it was taken from us; if even that fails, the lease runs out. The run's own error is the one to report.
      if (!(error instanceof RetentionLeaseLost)) await this.runs.release(RETENTION_JOB, holder).catch(() => undefined);
      throw error;
    }
    if (report.interrupted) {
      await this.runs.release(RETENTION_JOB, holder);
      return finish();
    }
    const result = finish();
    await this.runs.finish(RETENTION_JOB, holder, { deleted: result.deleted, durationMs: result.durationMs });
    return result;
  }

  /** Deletes the step's rows batch by batch until a batch comes back short; true when stopped by `signal`. */
  private async purgeAll(step: Step, report: RetentionReport, holder: string, signal: AbortSignal | undefined): Promise<boolean> {
    const cutoff = report.cutoffs[step.kind]!;
    const limit = this.settings.batchSize;
    for (;;) {
      if (signal?.aborted) {
        report.interrupted = true;
        return true;
      }
      const deleted = await this.database.transaction(async (tx) => {
        if (!(await tx.use(this.runs).renew(RETENTION_JOB, holder, LEASE_SECONDS))) throw new RetentionLeaseLost();
        return step.purge(tx, cutoff, limit, report.cutoffs);
      });
      report.deleted[step.kind] += deleted;
      if (deleted > 0) report.batches[step.kind] += 1;
      if (deleted < limit) return false;
    }
  }
}

function zeroPerKind(): Record<RetentionKind, number> {
  return Object.fromEntries(RETENTION_KINDS.map((kind) => [kind, 0])) as Record<RetentionKind, number>;
}

/** Which process holds the job, for people reading maintenance_runs: host, pid, and a tag that tells two runs of one process apart. */
function holderName(): string {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`.slice(-128);
}
