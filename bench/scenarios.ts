/** What the bench sends: the load scenarios by key, and the requests the other measurements reuse. */
import type { Request as CannonRequest } from 'autocannon';

export const LOAD_SCENARIO_KEYS = ['get', 'list', 'list-filtered', 'list-search', 'create', 'patch', 'mix'] as const;
export type LoadScenarioKey = (typeof LOAD_SCENARIO_KEYS)[number];

/** Everything `--scenarios` can pick: the load scenarios, then the measurements of the services alone. */
export const PART_KEYS = [...LOAD_SCENARIO_KEYS, 'scaling', 'sync', 'login'] as const;
export type PartKey = (typeof PART_KEYS)[number];

export type ScenarioKind = 'read' | 'write' | 'mix';

export interface LoadScenario {
  key: LoadScenarioKey;
  name: string;
  kind: ScenarioKind;
  requests: CannonRequest[];
}

export interface TaskRequests {
  get: CannonRequest;
  create: CannonRequest;
  patch: CannonRequest;
  list: (query: string) => CannonRequest;
  mix: CannonRequest;
}

/** Requests of one caller, on random tasks of their own. */
export function taskRequests(authorization: string, taskIds: string[]): TaskRequests {
  const randomId = () => taskIds[Math.floor(Math.random() * taskIds.length)];
  const headers = { authorization, 'content-type': 'application/json' };
  const createBody = JSON.stringify({ title: 'Benchmark task', description: 'made under load', due_date: '2027-01-01T00:00:00Z' });
  return {
    get: { method: 'GET', headers, setupRequest: (request) => ({ ...request, path: `/api/v1/tasks/${randomId()}` }) },
    list: (query) => ({ method: 'GET', headers, path: `/api/v1/tasks?${query}` }),
    create: { method: 'POST', path: '/api/v1/tasks', headers, body: createBody },
    patch: {
      method: 'PATCH',
      headers,
      setupRequest: (request) => ({ ...request, path: `/api/v1/tasks/${randomId()}`, body: JSON.stringify({ completed: Math.random() < 0.5 }) }),
    },
    // Each request gets its own headers object: autocannon writes Content-Length into the one it is given.
    mix: {
      setupRequest: (request) => {
        const dice = Math.random();
        const base = { ...request, headers: { ...headers } };
        if (dice < 0.45) return { ...base, method: 'GET', path: `/api/v1/tasks/${randomId()}`, body: undefined };
        if (dice < 0.9) return { ...base, method: 'GET', path: '/api/v1/tasks?limit=20', body: undefined };
        if (dice < 0.95) return { ...base, method: 'POST', path: '/api/v1/tasks', body: createBody };
        return { ...base, method: 'PATCH', path: `/api/v1/tasks/${randomId()}`, body: JSON.stringify({ completed: dice < 0.975 }) };
      },
    },
  };
}

/** The load scenarios among `keys`, in the bench's own order. */
export function loadScenarios(requests: TaskRequests, keys: ReadonlySet<PartKey>): LoadScenario[] {
  const scenarios: Record<LoadScenarioKey, Omit<LoadScenario, 'key'>> = {
    get: { name: 'get one task by id', kind: 'read', requests: [requests.get] },
    list: { name: 'list, default page (limit=20)', kind: 'read', requests: [requests.list('limit=20')] },
    'list-filtered': { name: 'list completed=false&sort=due_date', kind: 'read', requests: [requests.list('completed=false&sort=due_date&limit=20')] },
    'list-search': { name: 'list q=report', kind: 'read', requests: [requests.list('q=report&limit=20')] },
    create: { name: 'create', kind: 'write', requests: [requests.create] },
    patch: { name: 'patch', kind: 'write', requests: [requests.patch] },
    mix: { name: '90/10 read/write mix', kind: 'mix', requests: [requests.mix] },
  };
  return LOAD_SCENARIO_KEYS.filter((key) => keys.has(key)).map((key) => ({ key, ...scenarios[key] }));
}

export function loginRequest(username: string, password: string): CannonRequest {
  return {
    method: 'POST',
    path: '/api/v1/login/access-token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }).toString(),
  };
}
