import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema';

/** The service's schemas, by name: `Schemas['TaskPublic']`, `Schemas['TaskChangePage']`, … */
export type Schemas = components['schemas'];
/** One entry of a sync page: a task as it is now (`live`, `trashed`), or the news that it is gone (`deleted`). */
export type TaskChange = Schemas['TaskChange'] | Schemas['TaskDeletion'];
export type TodoClient = Client<paths>;

export interface TodoClientOptions {
  /** Where the service is, without /api/v1: `http://localhost:8000`. */
  baseUrl: string;
  /** The access token to send (asked before every request, so a refreshed one is used at once); none for the public routes. */
  accessToken?: () => string | undefined;
  /** A fetch of your own (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
}

/**
 * A client whose paths, parameters, bodies and responses are the OpenAPI document's: a typo in a
 * path or a field is a compile error. Every call resolves to `{ data, error, response }`.
 */
export function createTodoClient({ baseUrl, accessToken, fetch: fetchImpl }: TodoClientOptions): TodoClient {
  const client = createClient<paths>({ baseUrl, ...(fetchImpl && { fetch: fetchImpl }) });
  client.use({
    onRequest({ request }) {
      const token = accessToken?.();
      if (token) request.headers.set('Authorization', `Bearer ${token}`);
      return request;
    },
  });
  return client;
}

/** Logs in with a username (or email) and password: the access and refresh tokens. */
export async function logIn(client: TodoClient, username: string, password: string): Promise<Schemas['Token']> {
  const { data, error, response } = await client.POST('/api/v1/login/access-token', {
    body: { username, password },
    bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  if (!data) throw new Error(`login failed: ${response.status} ${JSON.stringify(error)}`);
  return data;
}
