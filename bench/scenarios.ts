/** What the bench sends: the load scenarios by key, and the requests the other measurements reuse. */
import type { Request as CannonRequest } from 'autocannon';

export const LOAD_SCENARIO_KEYS = ['get', 'list', 'list-filtered', 'list-search', 'create', 'patch', 'put', 'trash', 'mix'] as const;
export type LoadScenarioKey = (typeof LOAD_SCENARIO_KEYS)[number];

/** The load scenarios the `workers` part runs again with WEB_CONCURRENCY=2. */
export const WORKERS_SCENARIO_KEYS: readonly LoadScenarioKey[] = ['get', 'list'];

/** Everything `--scenarios` can pick: the load scenarios, then the measurements of the services alone. */
export const PART_KEYS = [...LOAD_SCENARIO_KEYS, 'workers', 'scaling', 'sync', 'login'] as const;
export type PartKey = (typeof PART_KEYS)[number];

export type ScenarioKind = 'read' | 'write' | 'mix';

export interface LoadScenario {
  key: LoadScenarioKey;
  name: string;
  kind: ScenarioKind;
  requests: CannonRequest[];
  /** Server processes of each side (WEB_CONCURRENCY); 1 unless said. */
  workers?: number;
  /** Runs before each server's warm-up and each turn: puts back what the last one used up. */
  beforeEachTurn?: () => Promise<void>;
}

export interface TaskRequests {
  get: CannonRequest;
  create: CannonRequest;
  patch: CannonRequest;
  put: CannonRequest;
  list: (query: string) => CannonRequest;
  mix: CannonRequest;
}

/** DELETE to the trash: each request takes a task not trashed yet; `beforeEachTurn` brings them back. */
export interface TrashRequests {
  request: CannonRequest;
  beforeEachTurn: () => Promise<void>;
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
    put: {
      method: 'PUT',
      headers,
      setupRequest: (request) => ({
        ...request,
        path: `/api/v1/tasks/${randomId()}`,
        body: JSON.stringify({
          title: 'Replaced under load',
          description: 'every field sent',
          completed: Math.random() < 0.5,
          due_date: '2027-02-01T08:30:00Z',
        }),
      }),
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

/**
 * DELETE to the trash, each request on the next of `taskIds` (a task trashed once answers 404 the
 * second time). Before each turn `restore` brings the trashed ones back, so every turn starts from
 * the same data. The next turn goes on from where the last one stopped rather than from the start:
 * a request still in flight when a turn ended may trash its task after the restore, and that task
 * then comes round again only after all the others. A turn that sends more requests than there are
 * tasks shows as non-2xx.
 */
export function trashRequests(authorization: string, taskIds: string[], restore: () => Promise<void>): TrashRequests {
  let next = 0;
  return {
    request: {
      method: 'DELETE',
      headers: { authorization },
      setupRequest: (request) => ({ ...request, path: `/api/v1/tasks/${taskIds[next++ % taskIds.length]}` }),
    },
    beforeEachTurn: restore,
  };
}

/** The load scenarios among `keys`, in the bench's own order. */
export function loadScenarios(requests: TaskRequests, trash: TrashRequests, keys: ReadonlySet<PartKey>): LoadScenario[] {
  const scenarios: Record<LoadScenarioKey, Omit<LoadScenario, 'key'>> = {
    get: { name: 'get one task by id', kind: 'read', requests: [requests.get] },
    list: { name: 'list, default page (limit=20)', kind: 'read', requests: [requests.list('limit=20')] },
    'list-filtered': { name: 'list completed=false&sort=due_date', kind: 'read', requests: [requests.list('completed=false&sort=due_date&limit=20')] },
    'list-search': { name: 'list q=report', kind: 'read', requests: [requests.list('q=report&limit=20')] },
    create: { name: 'create', kind: 'write', requests: [requests.create] },
    patch: { name: 'patch', kind: 'write', requests: [requests.patch] },
    put: { name: 'put (replace)', kind: 'write', requests: [requests.put] },
    trash: { name: 'delete to the trash', kind: 'write', requests: [trash.request], beforeEachTurn: trash.beforeEachTurn },
    mix: { name: '90/10 read/write mix', kind: 'mix', requests: [requests.mix] },
  };
  return LOAD_SCENARIO_KEYS.filter((key) => keys.has(key)).map((key) => ({ key, ...scenarios[key] }));
}

/** The same scenarios with every side running `workers` processes. */
export function withWorkers(scenarios: LoadScenario[], workers: number): LoadScenario[] {
  return scenarios.map((scenario) => ({ ...scenario, name: `${scenario.name}, ${workers} workers`, workers }));
}

export function loginRequest(username: string, password: string): CannonRequest {
  return {
    method: 'POST',
    path: '/api/v1/login/access-token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }).toString(),
  };
}
