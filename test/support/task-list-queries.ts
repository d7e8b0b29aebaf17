import { SORT_KEYS } from '../../src/tasks/tasks.dto';

/** A value for each filter of GET /api/v1/tasks, as the query string carries it. */
export interface ListFilterValues {
  completed: readonly string[];
  due_before: string;
  due_after: string;
  q: string;
}

/**
 * Every query string GET /api/v1/tasks can receive, up to the values: each filter absent or present
 * (`completed` with each of its values), under every sort key, in a fixed order.
 */
export function everyListQuery(values: ListFilterValues): Array<Record<string, string>> {
  const queries: Array<Record<string, string>> = [];
  for (const completed of [undefined, ...values.completed])
    for (const due_before of [undefined, values.due_before])
      for (const due_after of [undefined, values.due_after])
        for (const q of [undefined, values.q])
          for (const sort of SORT_KEYS) {
            const present = Object.entries({ completed, due_before, due_after, q, sort }).filter(([, value]) => value !== undefined);
            queries.push(Object.fromEntries(present) as Record<string, string>);
          }
  return queries;
}
