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

interface ServerFigures extends Omit<Measurement, 'rps'> {
  label: string;
  rps: number;
  /** A service's req/s and p99 as a multiple of the baseline's. */
  toBaseline?: { rps: Spread; p99: number };
}

interface ScenarioSummary {
  key: LoadScenarioKey;
  name: string;
  kind: ScenarioKind;
  servers: ServerFigures[];
  /**
   * A/B runs: new's req/s and p99 as a multiple of old's; `slower` when beyond the tolerance.
   * `noise`: the baseline's highest req/s over its lowest across the rounds. The baseline does not
   * change within a run, so this is how much the machine alone moved the figures (unknown with one round).
   */
  newToOld?: { rps: Spread; p99: number; slower: boolean; noise?: number };
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
    return { label, rps: middle('rps'), p50: middle('p50'), p99: middle('p99'), errors: total('errors'), non2xx: total('non2xx'), toBaseline };
  };
  const servers = [
    ...services.map(({ label }) => figures(label, { rps: ratio(rounds, label, BASELINE, 'rps'), p99: ratio(rounds, label, BASELINE, 'p99').median })),
    figures(BASELINE),
  ];
  const [subject, other] = services;
  if (!other) return { key: scenario.key, name: scenario.name, kind: scenario.kind, servers };
  const rps = ratio(rounds, subject.label, other.label, 'rps');
  const baseline = rounds.map((round) => round[BASELINE].rps);
  const newToOld = {
    rps,
    p99: ratio(rounds, subject.label, other.label, 'p99').median,
    slower: rps.median < 1 - AB_TOLERANCE,
    noise: baseline.length > 1 ? Math.max(...baseline) / Math.min(...baseline) : undefined,
  };
  return { key: scenario.key, name: scenario.name, kind: scenario.kind, servers, newToOld };
}

function ratio(rounds: Round[], of: string, to: string, field: 'rps' | 'p99'): Spread {
  const values = rounds.map((round) => round[of][field] / round[to][field]);
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
      `${other ? 'Each service runs' : 'The service runs'} as the image runs it: one worker (WEB_CONCURRENCY=1), production build, request logging on` +
      `${other ? `; both on the same database, migrated by the working tree (old runs on new's schema)` : ''}.`,
    '',
    '| scenario | server | req/s | p50 ms | p99 ms | errors | non-2xx | req/s ÷ baseline (min–max) | p99 ÷ baseline |',
    '|---|---|---:|---:|---:|---:|---:|---|---:|',
  ];
}

function scenarioTable(summary: ScenarioSummary[]): string[] {
  return summary.flatMap((scenario) =>
    scenario.servers.map((server, index) => {
      const ratios = server.toBaseline
        ? `**${fixed(server.toBaseline.rps.median)}** (${fixed(server.toBaseline.rps.min)}–${fixed(server.toBaseline.rps.max)}) | ${fixed(server.toBaseline.p99)}`
        : ' | ';
      return `| ${index === 0 ? scenario.name : ''} | ${server.label} | ${fixed(server.rps, 0)} | ${fixed(server.p50, 1)} | ${fixed(server.p99, 1)} | ${server.errors} | ${server.non2xx} | ${ratios} |`;
    }),
  );
}

function newAgainstOld(summary: ScenarioSummary[]): string[] {
  const compared = summary.filter((scenario) => scenario.newToOld);
  if (!compared.length) return [];
  const slower = compared.filter((scenario) => scenario.newToOld!.slower).map((scenario) => scenario.name);
  const noisy = compared.filter(({ newToOld }) => (newToOld!.noise ?? 1) > 1 + AB_TOLERANCE).map((scenario) => scenario.name);
  return [
    '',
    `## New against old: flagged where new is more than ${AB_TOLERANCE * 100} % slower (median of rounds)`,
    '',
    '| scenario | new ÷ old req/s (min–max) | new ÷ old p99 | noise: baseline max ÷ min | verdict |',
    '|---|---|---:|---:|---|',
    ...compared.map(({ name, newToOld }) => {
      const { rps, p99, slower: flagged, noise } = newToOld!;
      const change = `${percent(rps.median)} ${rps.median >= 1 ? 'faster' : 'slower'}`;
      return `| ${name} | **${fixed(rps.median)}** (${fixed(rps.min)}–${fixed(rps.max)}) | ${fixed(p99)} | ${noise === undefined ? '—' : fixed(noise)} | ${flagged ? '❌' : '✅'} new ${change} |`;
    }),
    '',
    slower.length
      ? `New is more than ${AB_TOLERANCE * 100} % slower than old in: ${slower.join('; ')}.`
      : `New is within ${AB_TOLERANCE * 100} % of old or faster in every scenario.`,
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

/** The service's own targets against the baseline (issue 13 sets them); for an A/B run, new's. */
function targets(subject: ServiceResult, summary: ScenarioSummary[]): string[] {
  const checks: string[] = [];
  const check = (met: boolean, text: string) => checks.push(`- ${met ? '✅ met —' : '❌ not met —'} ${text}`);
  for (const scenario of summary) {
    const figures = scenario.servers.find((server) => server.label === subject.label)!;
    const { rps, p99 } = figures.toBaseline!;
    if (scenario.kind === 'read' && scenario.key !== 'list-search') {
      check(rps.median >= 0.6, `${scenario.name}: throughput ${fixed(rps.median)} × baseline (target ≥ 0.6)`);
      check(p99 <= 1.5, `${scenario.name}: p99 ${fixed(p99)} × baseline (target ≤ 1.5)`);
    }
    if (scenario.kind === 'write') check(rps.median >= 0.5, `${scenario.name}: throughput ${fixed(rps.median)} × baseline (target ≥ 0.5)`);
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
