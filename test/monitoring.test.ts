import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { parse, stringify } from 'yaml';
import { createTestApp, type TestApp } from './support/app';
import { urlForDatabase } from './support/database';
import { projectRoot } from './support/processes';
import { parseExposition } from './support/prometheus';
import { isExported, metricNames } from './support/promql';
import { bearer, newUserFields } from './support/users';

/**
 * deploy/prometheus (alert rules, their promtool tests, an example configuration) and
 * deploy/grafana (the dashboard), held to what the service really exports.
 */

const read = (file: string) => fs.readFileSync(path.join(projectRoot, file), 'utf8');

/** Metrics the rules and the dashboard use that other exporters provide, and which. */
const EXTERNAL: Record<string, string> = {
  node_filesystem_avail_bytes: 'node_exporter on the database host (job "database-host")',
  node_filesystem_size_bytes: 'node_exporter on the database host (job "database-host")',
};

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }>;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string; datasource?: { uid: string } }>;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  panels: Panel[];
  templating: { list: Array<{ name: string; query: { query: string } | string; datasource: { uid: string } }> };
}

const rules: AlertRule[] = (parse(read('deploy/prometheus/alerts.yml')) as { groups: Array<{ rules: AlertRule[] }> }).groups.flatMap((group) => group.rules);
const ruleTests: RuleTest[] = (parse(read('deploy/prometheus/alerts.test.yml')) as { tests: RuleTest[] }).tests;
const dashboard = JSON.parse(read('deploy/grafana/todo-service.json')) as Dashboard;
const queryPanels = dashboard.panels.filter((panel) => panel.type !== 'row');
const dashboardQueries = [
  ...queryPanels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expression: target.expr }))),
  ...dashboard.templating.list.map((variable) => ({
    where: `variable $${variable.name}`,
    expression: typeof variable.query === 'string' ? variable.query : variable.query.query,
  })),
];
const ruleQueries = rules.map((rule) => ({ where: `alert ${rule.alert}`, expression: rule.expr }));

let testApp: TestApp;
/** The families of a real /metrics after traffic and a collection of the database statistics. */
let families: Map<string, string>;

beforeAll(async () => {
  // A read replica configured, so the routing's families (db_replica_*, db_reads_total) are exported
  // too: the test server's own postgres database, which the routing finds is no standby (down).
  const notAStandby = urlForDatabase('postgres');
  testApp = await createTestApp({ DATABASE_URL: notAStandby, DATABASE_READ_URLS: notAStandby });
  const fields = newUserFields();
  await request(testApp.app).post('/api/v1/users/signup').send(fields).expect(201);
  const login = await request(testApp.app).post('/api/v1/login/access-token').type('form').send({ username: fields.username, password: fields.password });
  await request(testApp.app).post('/api/v1/tasks').set(bearer(login.body.access_token)).send({ title: 'watched' }).expect(201);
  await request(testApp.app).get('/api/v1/tasks').set(bearer(login.body.access_token)).expect(200);
  expect(await testApp.databaseStats.collectNow()).toBe(true);
  families = parseExposition((await request(testApp.app).get('/metrics').expect(200)).text).families;
});

afterAll(() => testApp.close());

/** `where: name` for each metric a query uses that the service does not export and no outside exporter is listed for. */
function unknownMetrics(queries: Array<{ where: string; expression: string }>): string[] {
  return queries.flatMap(({ where, expression }) =>
    metricNames(expression)
      .filter((name) => !isExported(name, families) && !(name in EXTERNAL))
      .map((name) => `${where}: ${name}`),
  );
}

describe('the metric names of the alert rules and the dashboard', () => {
  it('are all exported by the service, apart from the outside exporters named in the test', () => {
    expect(families.size).toBeGreaterThan(20);
    expect(unknownMetrics(ruleQueries)).toEqual([]);
    expect(unknownMetrics(dashboardQueries)).toEqual([]);
  });

  it('name outside exporters only for metrics the service does not export, and that something uses', () => {
    const used = new Set([...ruleQueries, ...dashboardQueries].flatMap(({ expression }) => metricNames(expression)));
    for (const name of Object.keys(EXTERNAL)) {
      expect([name, isExported(name, families) ? 'exported by the service: drop it from EXTERNAL' : 'external']).toEqual([name, 'external']);
      expect([name, used.has(name)]).toEqual([name, true]);
    }
  });

  it('cover the database families: every db_* family the service exports is on the dashboard', () => {
    const onDashboard = new Set(dashboardQueries.flatMap(({ expression }) => metricNames(expression)));
    const missing = [...families.keys()].filter((name) => name.startsWith('db_') && !onDashboard.has(name));
    expect(missing).toEqual([]);
  });
});

describe('deploy/grafana/todo-service.json', () => {
  it('is an importable Grafana dashboard: uid, title, schema version, and a ${DS_PROMETHEUS} datasource input', () => {
    expect(dashboard).toMatchObject({ uid: 'todo-service', title: 'todo-service', schemaVersion: expect.any(Number) });
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    for (const variable of dashboard.templating.list) expect(variable.datasource.uid).toBe('${DS_PROMETHEUS}');
  });

  it('has panels with unique ids, a query each on ${DS_PROMETHEUS}, laid out without overlapping', () => {
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
    for (const panel of queryPanels) {
      expect([panel.title, panel.datasource?.uid]).toEqual([panel.title, '${DS_PROMETHEUS}']);
      expect([panel.title, (panel.targets?.length ?? 0) > 0]).toEqual([panel.title, true]);
      for (const target of panel.targets ?? [])
        expect([panel.title, target.expr.trim().length > 0, target.datasource?.uid]).toEqual([panel.title, true, '${DS_PROMETHEUS}']);
      expect(new Set(panel.targets?.map((target) => target.refId)).size).toBe(panel.targets?.length);
    }
    const cells = new Map<string, string>();
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect([panel.title, x >= 0 && x + w <= 24]).toEqual([panel.title, true]);
      for (let column = x; column < x + w; column += 1) {
        for (let line = y; line < y + h; line += 1) {
          expect([panel.title, cells.get(`${column},${line}`)]).toEqual([panel.title, undefined]);
          cells.set(`${column},${line}`, panel.title);
        }
      }
    }
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  /** GitHub's anchor of each heading of docs/operations.md. */
  const anchors = new Set(
    [...read('docs/operations.md').matchAll(/^#+ (.+)$/gm)].map(([, heading]) =>
      heading
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );

  it('gives every alert a severity, a summary, a description and a runbook in docs/operations.md', () => {
    expect(rules.length).toBeGreaterThanOrEqual(10);
    expect(new Set(rules.map((rule) => rule.alert)).size).toBe(rules.length);
    for (const rule of rules) {
      expect([rule.alert, rule.labels?.severity]).toEqual([rule.alert, expect.stringMatching(/^(critical|warning)$/)]);
      expect([rule.alert, rule.annotations?.summary, rule.annotations?.description]).toEqual([rule.alert, expect.any(String), expect.any(String)]);
      const runbook = /^docs\/operations\.md#(.+)$/.exec(rule.annotations?.runbook_url ?? '');
      expect([rule.alert, runbook?.[1]]).toEqual([rule.alert, rule.alert.toLowerCase()]);
      expect([rule.alert, anchors.has(runbook![1])]).toEqual([rule.alert, true]);
    }
  });

  it('has, for every alert, a promtool test case that fires it and one where it stays quiet', () => {
    const cases = ruleTests.flatMap((test) => test.alert_rule_test ?? []);
    for (const rule of rules) {
      const mine = cases.filter((testCase) => testCase.alertname === rule.alert);
      expect([rule.alert, mine.some((testCase) => (testCase.exp_alerts ?? []).length > 0)]).toEqual([rule.alert, true]);
      expect([rule.alert, mine.some((testCase) => (testCase.exp_alerts ?? []).length === 0)]).toEqual([rule.alert, true]);
    }
    for (const testCase of cases) expect(rules.map((rule) => rule.alert)).toContain(testCase.alertname);
  });
});

/** Debian's prometheus package ships promtool; .ci/run installs it. */
const PROMTOOL =
  process.env.PROMTOOL ??
  (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((dir) => path.join(dir, 'promtool'))
    .find((file) => fs.existsSync(file));
if (!PROMTOOL) {
  process.stderr.write(
    `\n${'!'.repeat(78)}\n!! SKIPPED: promtool checks of deploy/prometheus: no promtool on PATH.\n` +
      `!! Install it (apt-get install prometheus) or set PROMTOOL.\n${'!'.repeat(78)}\n`,
  );
}

(PROMTOOL ? describe : describe.skip)('promtool', () => {
  const promtool = (...args: string[]) =>
    execFileSync(PROMTOOL!, args, { cwd: path.join(projectRoot, 'deploy', 'prometheus'), encoding: 'utf8', stdio: 'pipe' });

  it('checks the rules and the example configuration', () => {
    expect(promtool('check', 'rules', 'alerts.yml')).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(promtool('check', 'config', 'prometheus.yml')).toContain('SUCCESS');
  });

  it("passes the rules' unit tests (alerts.test.yml)", () => {
    expect(promtool('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
  });

  it('parses every query of the dashboard', () => {
    const concrete = (expression: string) => expression.replace(/\$__rate_interval/g, '5m').replace(/\$job/g, 'todo-service');
    const panelQueries = dashboardQueries.filter(({ where }) => where.startsWith('panel'));
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'todo-dashboard-')), 'queries.yml');
    fs.writeFileSync(
      file,
      stringify({
        groups: [{ name: 'dashboard', rules: panelQueries.map(({ expression }, i) => ({ record: `dashboard:query_${i}`, expr: concrete(expression) })) }],
      }),
    );
    try {
      expect(promtool('check', 'rules', file)).toContain(`SUCCESS: ${panelQueries.length} rules found`);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});
