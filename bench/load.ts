/** Load generation and timing: autocannon runs, and one-request-at-a-time latencies. */
import http from 'node:http';
import autocannon, { type Request as CannonRequest } from 'autocannon';

export interface Measurement {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Responses received. */
  requests: number;
  /** CPU time the server's processes spent per response, in µs (load scenarios only; see cpu.ts). */
  cpuUsPerRequest?: number;
}

export interface Latencies {
  rps: number;
  p50: number;
  p99: number;
}

export async function measure(port: number, requests: CannonRequest[], options: { connections: number; durationSeconds: number }): Promise<Measurement> {
  const result = await autocannon({ url: `http://127.0.0.1:${port}`, connections: options.connections, duration: options.durationSeconds, requests });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

/**
 * One request after another on one keep-alive connection for `seconds`, timed here with microsecond
 * resolution (autocannon rounds latencies to whole milliseconds).
 */
export async function sequentialLatencies(url: string, authorization: string, seconds: number): Promise<Latencies> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  try {
    while (performance.now() < until) {
      const started = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get(url, { agent, headers: { authorization } }, (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode ?? 0));
          })
          .on('error', reject);
      });
      if (status !== 200) throw new Error(`${url} answered ${status}`);
      latencies.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return { rps: latencies.length / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}
