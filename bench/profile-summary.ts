/**
 * node dist/bench/profile-summary.js FILE.cpuprofile [--us-per-request N]: where a CPU profile of
 * the service spent its time, by layer of the request path, then by package and by function (self
 * time), as Markdown. Take the profile with BENCH_PROFILE=1 npm run bench.
 *
 * Each sample goes to one layer: the innermost frame of its stack that belongs to a known layer
 * (Node's own frames and V8 builtins such as JSON.stringify count for the layer that called them:
 * `res.setHeader` called by the security headers is their cost). Samples whose stack holds no known
 * frame go to Node's HTTP server, timers or the rest of Node core by the innermost frame; samples
 * under the module loader are start-up, left out of the steady state. With --us-per-request (the CPU
 * µs a request measured by the bench, without the profiler), each layer's share is also given in µs.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** Layers of the request path, in the order the table lists them; the first matching rule names a frame's layer. */
const LAYERS: Array<{ layer: string; test: RegExp }> = [
  {
    layer: 'Express: router, req/res helpers',
    test: /~\/(express|router|path-to-regexp|finalhandler|parseurl|send|fresh|accepts|negotiator|on-finished|depd|encodeurl|escape-html|merge-descriptors|setprototypeof|statuses|http-errors|utils-merge|vary|methods|mime-types|mime-db|range-parser|proxy-addr|forwarded|ipaddr\.js|qs|content-disposition|cookie|cookie-signature|etag|is-promise)\//,
  },
  { layer: 'Express: body parsers', test: /~\/(body-parser|raw-body|type-is|media-typer|content-type|iconv-lite|bytes|unpipe)\// },
  {
    layer: 'our middleware: request lifecycle, security headers, CORS',
    test: /dist\/src\/(observability\/request-lifecycle|http\/security-headers|http\/http-server)\.js|~\/(helmet|cors|object-assign)\//,
  },
  { layer: 'our route handling: handle(), auth header, errors', test: /dist\/src\/http\/(route|errors|error-handler|preconditions)\.js/ },
  {
    layer: 'validation: class-validator, class-transformer, our rules',
    test: /~\/(class-validator|class-transformer|validator|libphonenumber-js|ajv|ajv-formats|fast-uri|fast-deep-equal|json-schema-traverse)\/|dist\/src\/http\/(validation|validators|compiled-validation)\.js/,
  },
  { layer: 'auth: JWT verify, session check', test: /~\/(fast-jwt|@lukeed\/ms|mnemonist|obliterator|asn1\.js|ecdsa-sig-formatter)\/|dist\/src\/auth\// },
  { layer: 'handlers and services', test: /dist\/src\/(tasks|users|health)\/[^/]*\.(routes|service)\.js/ },
  { layer: 'data layer: Database.rows, repositories', test: /dist\/src\/db\/|dist\/src\/[^/]+\/[^/]*\.repository\.js|dist\/src\/[^/]+\/[^/]*\.entity\.js/ },
  { layer: 'TypeORM', test: /~\/typeorm\// },
  {
    layer: 'pg driver',
    test: /~\/(pg|pg-protocol|pg-pool|pg-types|pg-int8|postgres-date|postgres-array|postgres-interval|postgres-bytea|pg-connection-string|pgpass|split2)\//,
  },
  {
    layer: 'serialisation: DTO mapping, JSON, response writer',
    test: /dist\/src\/http\/(reply|serialisers?)\.js|dist\/src\/[^/]+\/[^/]*\.dto\.js|~\/(fast-json-stringify|json-schema-ref-resolver|rfdc)\//,
  },
  {
    layer: 'logging: pino',
    test: /~\/(pino|pino-std-serializers|sonic-boom|fast-redact|quick-format-unescaped|on-exit-leak-free|thread-stream|atomic-sleep|safe-stable-stringify|fast-safe-stringify)\//,
  },
  { layer: 'metrics: prom-client', test: /~\/(prom-client|tdigest|bintrees)\/|dist\/src\/observability\/metrics\.js/ },
  { layer: 'the baseline’s own handler (its routing, body reading, response writing)', test: /dist\/bench\/baseline-server\.js/ },
];

const NODE_HTTP = 'Node: HTTP parser, server, sockets, streams';
const NODE_TIMERS = 'Node: timers';
const NODE_OTHER = 'Node core, other';
const GC = 'garbage collector';
const PROGRAM = 'V8 and native code outside JavaScript ((program))';
const STARTUP = 'start-up: module loading';
const IDLE = '(idle)';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'us-per-request': { type: 'string' } } });
const file = positionals[0];
if (!file) {
  console.error('usage: node dist/bench/profile-summary.js FILE.cpuprofile [--us-per-request N]');
  process.exit(2);
}
const usPerRequest = values['us-per-request'] === undefined ? undefined : Number(values['us-per-request']);

const profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } = JSON.parse(fs.readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

/** `~/package/…` for a dependency, `dist/…` for this project's compiled code. */
const shortUrl = (url: string) => (url.includes('node_modules/') ? url.replace(/.*node_modules\//, '~/') : url.replace(/.*\/dist\//, 'dist/'));
const frameName = ({ functionName, url, lineNumber }: CallFrame) => `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber}`;
const layerOfFrame = (frame: CallFrame) => LAYERS.find(({ test }) => test.test(shortUrl(frame.url)))?.layer;

function nodeCoreLayer(frame: CallFrame): string {
  if (frame.functionName === '(garbage collector)') return GC;
  if (frame.functionName === '(program)') return PROGRAM;
  if (frame.functionName === '(idle)') return IDLE;
  if (
    /node:(_http|http|net|stream|internal\/(streams|http|stream_base_commons|net))/.test(frame.url) ||
    /^parserOn|^onStreamRead|^writev?Generic/.test(frame.functionName)
  )
    return NODE_HTTP;
  if (/node:(timers|internal\/timers)/.test(frame.url)) return NODE_TIMERS;
  return NODE_OTHER;
}

/** The layer of a sample: start-up when under the module loader, else the innermost known frame's layer. */
const layerCache = new Map<number, string>();
function layerOfSample(leafId: number): string {
  const cached = layerCache.get(leafId);
  if (cached) return cached;
  let layer: string | undefined;
  let startup = false;
  for (let id: number | undefined = leafId; id !== undefined; id = parents.get(id)) {
    const frame = nodes.get(id)!.callFrame;
    if (/node:internal\/modules\//.test(frame.url)) startup = true;
    layer ??= layerOfFrame(frame);
  }
  const result = startup ? STARTUP : (layer ?? nodeCoreLayer(nodes.get(leafId)!.callFrame));
  layerCache.set(leafId, result);
  return result;
}

const byLayer = new Map<string, number>();
const byFunction = new Map<string, number>();
const functionsByLayer = new Map<string, Map<string, number>>();
const byPackage = new Map<string, number>();
const add = (map: Map<string, number>, key: string, value: number) => map.set(key, (map.get(key) ?? 0) + value);
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index] ?? 0;
  const layer = layerOfSample(id);
  add(byLayer, layer, delta);
  if (layer === IDLE || layer === STARTUP) return;
  const name = frameName(nodes.get(id)!.callFrame);
  add(byFunction, name, delta);
  if (!functionsByLayer.has(layer)) functionsByLayer.set(layer, new Map());
  add(functionsByLayer.get(layer)!, name, delta);
  const pkg =
    /~\/((@[^/]+\/)?[^/:]+)/.exec(name)?.[1] ?? (name.includes('dist/') ? '(this project)' : name.includes('node:') ? '(node core)' : name.split(' ')[0]);
  add(byPackage, pkg, delta);
});

const total = [...byLayer.values()].reduce((sum, time) => sum + time, 0);
const idle = byLayer.get(IDLE) ?? 0;
const startup = byLayer.get(STARTUP) ?? 0;
const steady = total - idle - startup;
const percent = (time: number) => `${((100 * time) / steady).toFixed(1)} %`;
const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);

const lines: string[] = [
  `Profile: \`${file.replace(/.*\//, '')}\`, ${(total / 1e6).toFixed(1)} s sampled: ${(steady / 1e6).toFixed(1)} s busy serving, ` +
    `${(startup / 1e6).toFixed(1)} s start-up (left out), ${(idle / 1e6).toFixed(1)} s idle. Shares are of the busy time.`,
  '',
  `| layer | share | ${usPerRequest === undefined ? '' : `µs/request (of ${usPerRequest}) | `}top functions (self time, share of busy time) |`,
  `|---|---:|${usPerRequest === undefined ? '' : '---:|'}---|`,
];
for (const [layer, time] of sorted(byLayer)) {
  if (layer === IDLE || layer === STARTUP) continue;
  const top = sorted(functionsByLayer.get(layer) ?? new Map())
    .slice(0, 4)
    .map(([name, self]) => `\`${name}\` ${percent(self)}`)
    .join('; ');
  const micros = usPerRequest === undefined ? '' : `${((usPerRequest * time) / steady).toFixed(0)} | `;
  lines.push(`| ${layer} | ${percent(time)} | ${micros}${top} |`);
}
lines.push('', '### Self time by package', '', '| package | share |', '|---|---:|');
for (const [name, time] of sorted(byPackage).slice(0, 20)) lines.push(`| ${name} | ${percent(time)} |`);
lines.push('', '### Self time by function', '', '| function | share |', '|---|---:|');
for (const [name, time] of sorted(byFunction).slice(0, 30)) lines.push(`| \`${name}\` | ${percent(time)} |`);
console.log(lines.join('\n'));
