import fc from 'fast-check';
import { isExported, metricNames } from '../support/promql';

describe('metricNames', () => {
  it.each([
    ['http_requests_total', ['http_requests_total']],
    ['sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m])) > 0.05', ['http_requests_total']],
    [
      'histogram_quantile(0.99, sum by (job, method, route, le) (rate(http_request_duration_seconds_bucket{route!~"unmatched|static"}[5m]))) > 1 and sum by (job, method, route) (rate(http_request_duration_seconds_count[5m])) > 0.05',
      ['http_request_duration_seconds_bucket', 'http_request_duration_seconds_count'],
    ],
    [
      'db_pool_connections >= db_pool_max_connections and db_pool_idle_connections == 0',
      ['db_pool_connections', 'db_pool_max_connections', 'db_pool_idle_connections'],
    ],
    [
      'max by (job, table) (db_table_total_size_bytes) > 2 * max by (job, table) (db_table_total_size_bytes offset 1d) and max by (job, table) (db_table_total_size_bytes) > 100 * 1024 * 1024',
      ['db_table_total_size_bytes'],
    ],
    ['predict_linear(node_filesystem_avail_bytes{job="database-host"}[6h], 24 * 3600) < 1e9', ['node_filesystem_avail_bytes']],
    ['sum(rate(x_total{job=~"$job"}[$__rate_interval])) * 60', ['x_total']],
    ['max by (table, index) (a) and on (table, index) (max by (table, index) (b) == 0)', ['a', 'b']],
    ['sum(rate(c[5m])) by (route, status)', ['c']],
    ['label_values(http_requests_total, job)', ['http_requests_total']],
    ['label_replace(up, "instance", "$1", "instance", "(.*):.*")', ['up']],
    ['a unless on (job) b or vector(0)', ['a', 'b']],
  ])('finds the metrics of %s', (expression, expected) => {
    expect(metricNames(expression)).toEqual(expected);
  });

  it('finds a metric whatever matchers, ranges, offsets and aggregations surround it', () => {
    const name = fc
      .stringMatching(/^[a-z][a-z0-9_]{0,20}$/)
      .filter((text) => !['by', 'on', 'or', 'and', 'bool', 'offset', 'unless', 'without', 'ignoring', 'inf', 'nan'].includes(text));
    const wrap = fc.constantFrom(
      (m: string) => m,
      (m: string) => `${m}{job=~"$job", route="/a/{b}"}`,
      (m: string) => `rate(${m}[5m])`,
      (m: string) => `sum by (job, le) (rate(${m}{le!="+Inf"}[$__rate_interval]))`,
      (m: string) => `${m} offset 1d`,
      (m: string) => `max without (instance) (${m}) > 2.5e3`,
      (m: string) => `histogram_quantile(0.9, ${m})`,
    );
    fc.assert(fc.property(name, wrap, (metric, around) => expect(metricNames(around(metric))).toEqual([metric])));
  });
});

describe('isExported', () => {
  const families = new Map([
    ['http_request_duration_seconds', 'histogram'],
    ['http_requests_total', 'counter'],
    ['db_up', 'gauge'],
  ]);

  it("accepts a family and a histogram's series, and nothing else", () => {
    expect(
      [
        'http_requests_total',
        'db_up',
        'http_request_duration_seconds_bucket',
        'http_request_duration_seconds_sum',
        'http_request_duration_seconds_count',
      ].every((name) => isExported(name, families)),
    ).toBe(true);
    expect(['http_requests', 'db_up_count', 'http_requests_total_bucket', 'node_filesystem_avail_bytes'].some((name) => isExported(name, families))).toBe(
      false,
    );
  });
});
