/** Words of PromQL that look like names and are not metrics (keywords, and the aggregation modifiers' own). */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan', 'atan2']);

/**
 * The metric names a PromQL expression (or a Grafana query, with its `$variables`) selects. Not a
 * parser: it removes what can hold other names (strings, label matchers, ranges, label lists of
 * by/without/on/ignoring/group_*, Grafana variables, numbers and durations), then keeps every name
 * that is not a function call or a keyword. `promtool check rules` proves the expressions parse.
 */
export function metricNames(expression: string): string[] {
  const labelValues = /^\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/.exec(expression);
  if (labelValues) return [labelValues[1]];
  const stripped = expression
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/(?<![a-zA-Z0-9_:])\d+(?:\.\d+)?(?:e[+-]?\d+)?[a-zA-Z]*/g, ' ');
  const names = [...stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter(([, name, call]) => !call && !KEYWORDS.has(name.toLowerCase()))
    .map(([, name]) => name);
  return [...new Set(names)];
}

/**
 * Whether `name` is a series of one of `families` (the `# TYPE` names of a /metrics answer): the
 * family itself, or one of a histogram's or summary's `_bucket`, `_sum`, `_count`.
 */
export function isExported(name: string, families: Map<string, string>): boolean {
  if (families.has(name)) return true;
  const match = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (!match) return false;
  const type = families.get(match[1]);
  return type === 'histogram' || (type === 'summary' && match[2] !== 'bucket');
}
