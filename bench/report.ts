/**
 * The results of a bench run: the raw rounds, their summary (medians over rounds, ratios taken round
 * by round) and the Markdown table. A plain run has one service; an A/B run has two, new then old.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Revision } from './builds';
import type { Latencies, Measurement } from './load';
import type { LoadScenarioKey, ScenarioKind } from './scenarios';

export const BASELINE = 'baseline';
/** New may be up to this much slower than old (median of rounds) before a scenario is flagged. */
export const AB_TOLERANCE = 0.05;

/** One round of a scenario: each server's measurement, by label. */
export type Round = Record<string, Measurement>;

export interface ScenarioResult {
  key: LoadScenarioKey;
  name: string;
  kind: ScenarioKind;
  /** Processes of each side (WEB_CONCURRENCY); 1 when absent. */
  workers?: number;
  rounds: Round[];
}

export interface LoginResult {
  login: Measurement;
  quiet: Measurement;
  flooded: Measurement;
  flood: Measurement;
}

export interface ServiceResult {
  label: string;
  revision: Revision;
  scaling?: Array<{ tasks: number } & Latencies>;
  /** An incremental sync of a few changes at each user size; undefined when not measured or the service has no sync. */
  syncScaling?: Array<{ tasks: number } & Latencies>;
  login?: LoginResult;
  rssMb: number;
}

export interface BenchReport {
  date: string;
  machine: string;
  durationSeconds: number;
  rounds: number;
  connections: number;
  seeded: number;
  /** The working tree's service first; for an A/B run, the ref's service second. */
  services: ServiceResult[];
  results: ScenarioResult[];
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

interface ServerFigures extends Omit<Measurement, 'rps' | 'requests'> {
  label: string;
  rps: number;
  /** A service's req/s, CPU per request and p99 as a multiple of the baseline's. */
  toBaseline?: { rps: Spread; cpu?: Spread; p99: number };
}

interface ScenarioSummary {
  key: LoadScenarioKey;
  name: string;
  kind: ScenarioKind;
  workers: number;
  servers: ServerFigures[];
  /**
   * A/B runs: new's CPU per request, req/s and p99 as a multiple of old's; `slower` when req/s is
   * below the tolerance, `costlier` when CPU per request is above it. `noise` and `cpuNoise`: the
   * baseline's highest req/s (CPU µs per request) over its lowest across the rounds. The baseline
   * does not change within a run, so this is how much the machine alone moved the figures (unknown
   * with one round).
   */
  newToOld?: { rps: Spread; cpu?: Spread; p99: number; slower: boolean; costlier: boolean; noise?: number; cpuNoise?: number };
}

export function writeReport(report: BenchReport, directory: string, basename: string): string {
  const summary = report.results.map((scenario) => summarise(scenario, report.services));
  const text = markdown(report, summary);
  fs.mkdirSync(directory, { recursive: true });
  fs.writeFileSync(path.join(directory, `${basename}.json`), `${JSON.stringify({ ...report, summary }, null, 2)}\n`);
  fs.writeFileSync(path.join(directory, `${basename}.md`), text);
  return text;
}

function summarise(scenario: ScenarioResult, services: ServiceResult[]): ScenarioSummary {
  const { rounds } = scenario;
  const figures = (label: string, toBaseline?: ServerFigures['toBaseline']): ServerFigures => {
    const runs = rounds.map((round) => round[label]);
    const total = (field: 'errors' | 'non2xx') => runs.reduce((sum, run) => sum + run[field], 0);
    const middle = (field: 'rps' | 'p50' | 'p99') => median(runs.map((run) => run[field]));
    const cpu = runs.map((run) => run.cpuUsPerRequest);
    return {
      label,
      rps: middle('rps'),
      cpuUsPerRequest: cpu.every((value) => value !== undefined) ? median(cpu) : undefined,
      p50: middle('p50'),
      p99: middle('p99'),
      errors: total('errors'),
      non2xx: total('non2xx'),
      toBaseline,
    };
  };
  const servers = [
    ...services.map(({ label }) =>
      figures(label, {
        rps: ratio(rounds, label, BASELINE, 'rps')!,
        cpu: ratio(rounds, label, BASELINE, 'cpuUsPerRequest'),
        p99: ratio(rounds, label, BASELINE, 'p99')!.median,
      }),
    ),
    figures(BASELINE),
  ];
  const summary = { key: scenario.key, name: scenario.name, kind: scenario.kind, workers: scenario.workers ?? 1, servers };
  const [subject, other] = services;
  if (!other) return summary;
  const rps = ratio(rounds, subject.label, other.label, 'rps')!;
  const cpu = ratio(rounds, subject.label, other.label, 'cpuUsPerRequest');
  const spread = (values: Array<number | undefined>) =>
    values.length > 1 && values.every((value) => value !== undefined) ? Math.max(...values) / Math.min(...values) : undefined;
  const newToOld = {
    rps,
    cpu,
    p99: ratio(rounds, subject.label, other.label, 'p99')!.median,
    slower: rps.median < 1 - AB_TOLERANCE,
    costlier: cpu !== undefined && cpu.median > 1 + AB_TOLERANCE,
    noise: spread(rounds.map((round) => round[BASELINE].rps)),
    cpuNoise: spread(rounds.map((round) => round[BASELINE].cpuUsPerRequest)),
  };
  return { ...summary, newToOld };
}

/** `of` over `to`, round by round; undefined when a round lacks the figure (CPU time of results written before it was measured). */
function ratio(rounds: Round[], of: string, to: string, field: 'rps' | 'p99' | 'cpuUsPerRequest'): Spread | undefined {
  const values = rounds.map((round) => (round[of][field] ?? NaN) / (round[to][field] ?? NaN));
  if (values.some((value) => !Number.isFinite(value))) return undefined;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const fixed = (value: number, digits = 2) => value.toFixed(digits);
// One decimal, so that a verdict next to the line (0.949 against 0.951) reads as what it is.
const percent = (multiple: number) => `${Math.abs((multiple - 1) * 100).toFixed(1)} %`;

function markdown(report: BenchReport, summary: ScenarioSummary[]): string {
  return [
    ...header(report),
    ...scenarioTable(summary),
    ...newAgainstOld(summary),
    ...scaling(report.services),
    ...syncScaling(report.services),
    ...login(report.services),
    ...memory(report.services),
    ...targets(report.services[0], summary),
  ].join('\n');
}

function header(report: BenchReport): string[] {
  const other = report.services[1];
  const title = other
    ? `# A/B benchmark: the working tree (new) against \`${other.revision.source}\` (old), beside the node:http + pg baseline`
    : '# Benchmark: the service against the node:http + pg baseline';
  const labels = [...report.services.map((service) => service.label), BASELINE];
  const servers = `${labels.slice(0, -1).join(', ')} and ${labels.at(-1)}`;
  return [
    title,
    '',
    `${report.date} · ${report.machine}`,
    '',
    ...report.services.map(
      ({ label, revision }) =>
        `- **${label}**: ${revision.source}, \`${revision.describe}\`${revision.commit ? ` (${revision.commit}): ${revision.subject}` : ''}`,
    ),
    '',
    `${report.seeded.toLocaleString('en')} tasks (100 users × 1,000, one user with 10,000, one with 100,000). ` +
      `Each scenario: a 2 s warm-up of each server, then ${report.rounds} round${report.rounds === 1 ? '' : 's'} in which ${servers} take turns in mirrored pairs of rounds (one order, then its reverse), ` +
      `${report.durationSeconds} s each, ${report.connections} connections (autocannon). Figures are medians over the rounds; ratios are taken round by round. ` +
      `${other ? 'Each service runs' : 'The service runs'} as the image runs it: one worker (WEB_CONCURRENCY=1) unless the scenario says otherwise, production build, request logging on` +
      `${other ? `; both on the same database, migrated by the working tree (old runs on new's schema)` : ''}. ` +
      'CPU µs/req: user + system CPU time of the server’s processes during a turn, over the responses of that turn ' +
      '(from /proc; time spent waiting for a core is not counted, so it moves far less with the machine’s other load than req/s).',
    '',
    '| scenario | server | req/s | CPU µs/req | p50 ms | p99 ms | errors | non-2xx | req/s ÷ baseline (min–max) | CPU ÷ baseline | p99 ÷ baseline |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|',
  ];
}

const cpuText = (value: number | undefined) => (value === undefined ? '—' : fixed(value, 0));

function scenarioTable(summary: ScenarioSummary[]): string[] {
  return summary.flatMap((scenario) =>
    scenario.servers.map((server, index) => {
      const toBaseline = server.toBaseline;
      const ratios = toBaseline
        ? `**${fixed(toBaseline.rps.median)}** (${fixed(toBaseline.rps.min)}–${fixed(toBaseline.rps.max)}) | ${toBaseline.cpu ? fixed(toBaseline.cpu.median) : '—'} | ${fixed(toBaseline.p99)}`
        : ' | | ';
      return `| ${index === 0 ? scenario.name : ''} | ${server.label} | ${fixed(server.rps, 0)} | ${cpuText(server.cpuUsPerRequest)} | ${fixed(server.p50, 1)} | ${fixed(server.p99, 1)} | ${server.errors} | ${server.non2xx} | ${ratios} |`;
    }),
  );
}

function newAgainstOld(summary: ScenarioSummary[]): string[] {
  const compared = summary.filter((scenario) => scenario.newToOld);
  if (!compared.length) return [];
  const flagged = compared.filter(({ newToOld }) => newToOld!.slower || newToOld!.costlier).map((scenario) => scenario.name);
  const noisy = compared.filter(({ newToOld }) => (newToOld!.noise ?? 1) > 1 + AB_TOLERANCE).map((scenario) => scenario.name);
  const spread = (value: Spread | undefined) => (value ? `**${fixed(value.median)}** (${fixed(value.min)}–${fixed(value.max)})` : '—');
  const optional = (value: number | undefined) => (value === undefined ? '—' : fixed(value));
  return [
    '',
    `## New against old: flagged where new spends more than ${AB_TOLERANCE * 100} % more CPU a request, or is more than ${AB_TOLERANCE * 100} % slower (median of rounds)`,
    '',
    '| scenario | new ÷ old CPU µs/req (min–max) | new ÷ old req/s (min–max) | new ÷ old p99 | noise: baseline CPU max ÷ min | noise: baseline req/s max ÷ min | verdict |',
    '|---|---|---|---:|---:|---:|---|',
    ...compared.map(({ name, newToOld }) => {
      const { rps, cpu, p99, slower, costlier, noise, cpuNoise } = newToOld!;
      const cpuChange = cpu ? `${percent(cpu.median)} ${cpu.median <= 1 ? 'less' : 'more'} CPU, ` : '';
      const change = `${cpuChange}${percent(rps.median)} ${rps.median >= 1 ? 'faster' : 'slower'}`;
      return `| ${name} | ${spread(cpu)} | ${spread(rps)} | ${fixed(p99)} | ${optional(cpuNoise)} | ${optional(noise)} | ${slower || costlier ? '❌' : '✅'} new ${change} |`;
    }),
    '',
    flagged.length
      ? `New spends more than ${AB_TOLERANCE * 100} % more CPU a request, or is more than ${AB_TOLERANCE * 100} % slower, in: ${flagged.join('; ')}.`
      : `New is within ${AB_TOLERANCE * 100} % of old or better in every scenario, by CPU a request and by req/s.`,
    ...(noisy.length
      ? [
          '',
          `⚠ The baseline alone moved by more than ${AB_TOLERANCE * 100} % between rounds in: ${noisy.join('; ')}. ` +
            'The machine was busy, so verdicts there are within its noise: measure again on an idle machine, or with more rounds.',
        ]
      : []),
    ...(compared[0].newToOld!.noise === undefined ? ['', '⚠ One round: the noise is unknown, and a verdict means little. Use BENCH_ROUNDS=4 or more.'] : []),
  ];
}

function scaling(services: ServiceResult[]): string[] {
  if (!services.some((service) => service.scaling)) return [];
  const rows = services[0].scaling!.flatMap(({ tasks }, row) =>
    services.map(({ label, scaling: measured }, index) => {
      const { rps, p50, p99 } = measured![row];
      return `| ${index === 0 ? tasks.toLocaleString('en') : ''} | ${label} | ${fixed(rps, 0)} | ${fixed(p50, 3)} | ${fixed(p99, 3)} |`;
    }),
  );
  return [
    '',
    '## Scaling: default list page (limit=20), one request after another on one connection',
    '',
    '| tasks of the user | server | req/s | p50 ms | p99 ms |',
    '|---:|---|---:|---:|---:|',
    ...rows,
  ];
}

function syncScaling(services: ServiceResult[]): string[] {
  const measured = services.filter((service) => service.syncScaling);
  if (!measured.length) return [];
  const rows = measured[0].syncScaling!.flatMap(({ tasks }, row) =>
    measured.map(({ label, syncScaling: figures }, index) => {
      const { rps, p50, p99 } = figures![row];
      return `| ${index === 0 ? tasks.toLocaleString('en') : ''} | ${label} | ${fixed(rps, 0)} | ${fixed(p50, 3)} | ${fixed(p99, 3)} |`;
    }),
  );
  return [
    '',
    '## Sync: an incremental sync returning 5 changes, one request after another on one connection',
    '',
    '| tasks of the user | server | req/s | p50 ms | p99 ms |',
    '|---:|---|---:|---:|---:|',
    ...rows,
  ];
}

function login(services: ServiceResult[]): string[] {
  if (!services.some((service) => service.login)) return [];
  const measurements: Array<[keyof LoginResult, string, number]> = [
    ['login', 'login/access-token alone, 4 connections', 1],
    ['quiet', 'get by id, no flood, 4 connections', 0],
    ['flooded', 'get by id during a login flood', 0],
    ['flood', 'the flood itself (logins)', 1],
  ];
  // Logins take hundreds of milliseconds: whole milliseconds, and req/s to a tenth.
  const rows = measurements.flatMap(([key, name, rpsDigits]) =>
    services.map(({ label, login: measured }, index) => {
      const run = measured![key];
      const latencyDigits = rpsDigits ? 0 : 1;
      return `| ${index === 0 ? name : ''} | ${label} | ${fixed(run.rps, rpsDigits)} | ${fixed(run.p50, latencyDigits)} | ${fixed(run.p99, latencyDigits)} | ${run.errors} | ${run.non2xx} |`;
    }),
  );
  return [
    '',
    '## Login (bcrypt cost 12, rate limits off) and reads during a login flood',
    '',
    '| measurement | server | req/s | p50 ms | p99 ms | errors | non-2xx |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows,
  ];
}

function memory(services: ServiceResult[]): string[] {
  const peaks = services.map(({ label, rssMb }) => (services.length > 1 ? `${label} **${fixed(rssMb, 0)} MB**` : `**${fixed(rssMb, 0)} MB**`));
  return ['', `Peak RSS of the service worker over the whole run: ${peaks.join(', ')}.`];
}

/** Issue 13's targets: the service's throughput and read p99 as multiples of the baseline's (one worker each). */
export const TARGETS = { throughput: 0.6, readThroughputStretch: 0.75, readP99: 2 };

/** The service's own targets against the baseline (issue 13 sets them); for an A/B run, new's. */
function targets(subject: ServiceResult, summary: ScenarioSummary[]): string[] {
  const checks: string[] = [];
  const check = (met: boolean, text: string) => checks.push(`- ${met ? '✅ met —' : '❌ not met —'} ${text}`);
  for (const scenario of summary) {
    const figures = scenario.servers.find((server) => server.label === subject.label)!;
    const { rps, p99 } = figures.toBaseline!;
    // The two-worker scenarios say when WEB_CONCURRENCY pays; the targets are for one worker.
    const targeted = scenario.workers === 1 && scenario.key !== 'list-search';
    if (targeted && scenario.kind === 'read') {
      const stretch = rps.median >= TARGETS.readThroughputStretch ? `, stretch ${TARGETS.readThroughputStretch} met too` : '';
      check(rps.median >= TARGETS.throughput, `${scenario.name}: throughput ${fixed(rps.median)} × baseline (target ≥ ${TARGETS.throughput}${stretch})`);
      check(p99 <= TARGETS.readP99, `${scenario.name}: p99 ${fixed(p99)} × baseline (target ≤ ${TARGETS.readP99})`);
    }
    if (targeted && scenario.kind !== 'read') {
      check(rps.median >= TARGETS.throughput, `${scenario.name}: throughput ${fixed(rps.median)} × baseline (target ≥ ${TARGETS.throughput})`);
    }
    check(figures.errors + figures.non2xx === 0, `${scenario.name}: ${figures.errors} errors, ${figures.non2xx} non-2xx (target 0)`);
  }
  if (subject.scaling) {
    const [small, , large] = subject.scaling;
    check(large.p50 <= 3 * small.p50, `list at 100,000 tasks: p50 ${fixed(large.p50 / small.p50)} × its p50 at 1,000 (target ≤ 3)`);
  }
  if (subject.syncScaling) {
    const [small, , large] = subject.syncScaling;
    check(large.p50 <= 2 * small.p50, `incremental sync at 100,000 tasks: p50 ${fixed(large.p50 / small.p50)} × its p50 at 1,000 (target ≤ 2)`);
  }
  if (subject.login) {
    const { flooded, quiet } = subject.login;
    check(flooded.p99 <= 2 * quiet.p99, `get-by-id p99 during a login flood: ${fixed(flooded.p99 / quiet.p99)} × without (target ≤ 2)`);
  }
  check(subject.rssMb <= 200, `peak RSS of the service worker: ${fixed(subject.rssMb, 0)} MB (target ≤ 200)`);
  const whose = summary.some((scenario) => scenario.newToOld) ? ` (${subject.label})` : '';
  return ['', `## Targets${whose}`, '', ...checks, ''];
}
