/** One load scenario on every server: a warm-up each, then rounds in which they take turns. */
import { cpuSeconds } from './cpu';
import { measure, type Measurement } from './load';
import type { BenchOptions } from './options';
import type { Round, ScenarioResult } from './report';
import type { LoadScenario } from './scenarios';
import type { Server } from './servers';

const WARM_UP_SECONDS = 2;

/** Warm-up of each server, then rounds in which they take turns (see turnOrder). */
export async function runRounds(scenario: LoadScenario, servers: Server[], options: BenchOptions, log: (message: string) => void): Promise<ScenarioResult> {
  log(
    `${scenario.name}: warm-up, then ${options.rounds} round${options.rounds === 1 ? '' : 's'} of ${servers.map((server) => server.label).join(', ')}, ${options.durationSeconds} s each`,
  );
  for (const server of servers) await turn(scenario, server, { connections: options.connections, durationSeconds: WARM_UP_SECONDS });
  const rounds: Round[] = [];
  for (let round = 0; round < options.rounds; round += 1) {
    const measured = new Map<string, Measurement>();
    for (const server of turnOrder(servers, round)) measured.set(server.label, await turn(scenario, server, options));
    rounds.push(Object.fromEntries(servers.map((server) => [server.label, measured.get(server.label)!])));
  }
  return { key: scenario.key, name: scenario.name, kind: scenario.kind, workers: scenario.workers, rounds };
}

/** One server's turn: the load, and the CPU its processes spent answering it. */
async function turn(scenario: LoadScenario, server: Server, options: { connections: number; durationSeconds: number }): Promise<Measurement> {
  await scenario.beforeEachTurn?.();
  const cpuBefore = cpuSeconds(server.pid);
  const measurement = await measure(server.port, scenario.requests, options);
  const cpu = cpuSeconds(server.pid) - cpuBefore;
  return { ...measurement, cpuUsPerRequest: measurement.requests ? (cpu * 1e6) / measurement.requests : undefined };
}

/**
 * Rounds come in mirrored pairs (A B C, then C B A), each pair starting one server later: over a pair,
 * each server runs as often before as after each other one, so neither a drift of the machine's load
 * nor what a run leaves behind (the last run's garbage collection, autovacuum) favours one server.
 */
export function turnOrder<T>(servers: T[], round: number): T[] {
  const shift = Math.floor(round / 2) % servers.length;
  const order = [...servers.slice(shift), ...servers.slice(0, shift)];
  return round % 2 ? order.reverse() : order;
}
