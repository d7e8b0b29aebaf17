import fs from 'node:fs';
import path from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, projectRoot } from '../src/config';
import { listRoutes } from './support/routes';

/**
 * No cluster and no kubeconform here (neither Debian nor npm ships it), so every document in
 * deploy/k8s is validated against the Kubernetes API's own OpenAPI schema for its kind, as the
 * kubernetes-models package compiles it (types, required fields, enums, quantities; it does not
 * reject unknown fields, which kubeconform's strict mode would), and the tests below check what the
 * manifests promise against the service itself: its routes, port, image layout, measured memory and
 * configuration rules.
 */
const K8S = path.join(projectRoot, 'deploy', 'k8s');
const read = (file: string) => fs.readFileSync(path.join(projectRoot, file), 'utf8');

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

const files = fs.readdirSync(K8S).filter((file) => file.endsWith('.yaml'));
const manifests: Manifest[] = files
  .filter((file) => file !== 'kustomization.yaml')
  .flatMap((file) => parseAllDocuments(fs.readFileSync(path.join(K8S, file), 'utf8')).map((document) => ({ file, ...document.toJS() }) as Manifest));

function only<T>(kind: string): T & Manifest {
  const found = manifests.filter((manifest) => manifest.kind === kind);
  expect([kind, found.length]).toEqual([kind, 1]);
  return found[0] as T & Manifest;
}

const deployment = only<{
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: IPodSpec } };
}>('Deployment');
const job = only<{
  spec: {
    backoffLimit: number;
    ttlSecondsAfterFinished: number;
    activeDeadlineSeconds: number;
    template: { metadata: { labels: Record<string, string> }; spec: IPodSpec };
  };
}>('Job');
const service = only<{ spec: { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string | number }> } }>('Service');
const pdb = only<{ spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number; minAvailable?: number } }>('PodDisruptionBudget');
const hpa = only<{ spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number } }>('HorizontalPodAutoscaler');
const configMap = only<{ data: Record<string, string> }>('ConfigMap');
const secretExample = only<{ stringData: Record<string, string> }>('Secret');
const [api] = deployment.spec.template.spec.containers;
const [migrate] = job.spec.template.spec.containers;

/** What a real todo-service-secrets Secret holds (the example's values are placeholders). */
const SECRETS = { DATABASE_URL: 'postgres://todo:s3cret@postgres:5432/todo', JWT_SECRET: 'k8s-manifests-test-secret-0123456789abcdefghij' };

const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([key, value]) => labels[key] === value);

/** Kubernetes quantities in bytes: `192Mi`, `256M`. */
function bytes(quantity: string): number {
  const [, amount, unit] = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity)!;
  const units: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 };
  return Number(amount) * units[unit ?? ''];
}

/** The Dockerfile's runtime stage: an `ENV name=value`. */
const dockerfileRuntime = read('Dockerfile').split(/^FROM .* AS runtime$/m)[1];
const dockerfileEnv = (name: string) => new RegExp(`\\b${name}=(\\S+)`).exec(dockerfileRuntime)![1];

describe('the Kubernetes example in deploy/k8s', () => {
  it('holds only documents of kinds it knows, each valid against the Kubernetes API schema of its kind', () => {
    expect(manifests.length).toBeGreaterThan(0);
    for (const { file, ...manifest } of manifests) {
      const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
      expect([file, manifest.kind, Boolean(Model)]).toEqual([file, manifest.kind, true]);
      expect(() => new Model(manifest as never).validate()).not.toThrow();
    }
  });

  it('fails the schema check for a manifest with a wrong type, so the check above is not empty', () => {
    const broken = structuredClone(deployment) as unknown as {
      spec: { template: { spec: { containers: Array<{ ports: Array<{ containerPort: unknown }> }> } } };
    };
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new Deployment(broken as never).validate()).toThrow(/containerPort must be integer/);
  });

  it('applies with kubectl apply -k everything but the migration Job, the HPA and the Secret example, which say how they are applied', () => {
    const kustomization = parse(fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const separate = ['migrate-job.yaml', 'hpa.yaml', 'secret.example.yaml'];
    expect([...kustomization.resources].sort()).toEqual(files.filter((file) => file !== 'kustomization.yaml' && !separate.includes(file)).sort());
    for (const file of separate) expect([file, /^#.*kubectl (apply|create)/m.test(fs.readFileSync(path.join(K8S, file), 'utf8'))]).toEqual([file, true]);
  });

  it('runs three api pods whose labels its own selector, the Service and the PodDisruptionBudget all select, and the migration pod none of them', () => {
    const podLabels = deployment.spec.template.metadata.labels;
    const migrationLabels = job.spec.template.metadata.labels;
    expect(deployment.spec.replicas).toBe(3);
    for (const [name, selector] of Object.entries({
      deployment: deployment.spec.selector.matchLabels,
      service: service.spec.selector,
      pdb: pdb.spec.selector.matchLabels,
    })) {
      expect([name, selects(selector, podLabels), selects(selector, migrationLabels)]).toEqual([name, true, false]);
    }
    expect(pdb.spec.maxUnavailable ?? deployment.spec.replicas - pdb.spec.minAvailable!).toBe(1);
  });

  it('serves on the port the image listens on, and the Service sends its traffic there by the port’s name', () => {
    expect(api.ports).toEqual([{ name: 'http', containerPort: Number(dockerfileEnv('PORT')) }]);
    expect(configMap.data.PORT ?? dockerfileEnv('PORT')).toBe(dockerfileEnv('PORT'));
    expect(service.spec.ports.map((port) => port.targetPort)).toEqual(['http']);
  });

  it('probes readiness on /ready, liveness and startup on /health: routes that need no login, the liveness one never touching the database', () => {
    const routes = new Map(listRoutes().map((route) => [`${route.method} ${route.path}`, route]));
    const probes = { readiness: api.readinessProbe!, liveness: api.livenessProbe!, startup: api.startupProbe! };
    expect(Object.fromEntries(Object.entries(probes).map(([name, probe]) => [name, [probe.httpGet!.path, probe.httpGet!.port]]))).toEqual({
      readiness: ['/ready', 'http'],
      liveness: ['/health', 'http'],
      startup: ['/health', 'http'],
    });
    for (const probe of Object.values(probes)) expect(routes.get(`get ${probe.httpGet!.path}`)?.auth).toBe(false);
    expect(routes.get('get /health')!.database).toBe(false);
  });

  it('requests the memory a worker was measured to peak at, with room to spare, and limits it above the heap the image caps', () => {
    const measuredPeakMb = Number(/Peak RSS of the service worker over the whole run: \*\*(\d+) MB\*\*/.exec(read('bench/results/latest.md'))![1]);
    const oldSpaceMb = Number(/--max-old-space-size=(\d+)/.exec(dockerfileEnv('NODE_OPTIONS'))![1]);
    const { requests, limits } = api.resources as { requests: Record<string, string>; limits: Record<string, string> };
    expect(configMap.data.WEB_CONCURRENCY).toBe('1');
    expect(bytes(requests.memory)).toBeGreaterThanOrEqual(measuredPeakMb * 1e6 * 1.25);
    expect(bytes(limits.memory)).toBeGreaterThanOrEqual(bytes(requests.memory));
    // V8's young generation, code and buffers come on top of the capped old generation.
    expect(bytes(limits.memory)).toBeGreaterThanOrEqual((oldSpaceMb + 64) * 1024 ** 2);
    expect(Object.keys(requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(limits).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(migrate.resources!.requests!).sort()).toEqual(['cpu', 'memory']);
  });

  it('runs both containers as the image’s node user (uid 1000), without root, privilege escalation, capabilities or a writable root filesystem', () => {
    expect(dockerfileRuntime).toMatch(/^USER node$/m);
    for (const [name, pod, container] of [
      ['api', deployment.spec.template.spec, api],
      ['migrate', job.spec.template.spec, migrate],
    ] as Array<[string, IPodSpec, IContainer]>) {
      expect([name, pod.securityContext]).toEqual([name, expect.objectContaining({ runAsNonRoot: true, runAsUser: 1000 })]);
      expect([name, container.securityContext]).toEqual([
        name,
        { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      ]);
      expect([name, pod.automountServiceAccountToken]).toEqual([name, false]);
    }
  });

  it('gives a terminating pod time to leave the endpoints, then to finish its requests (SHUTDOWN_TIMEOUT_MS) before it is killed', () => {
    const pause = api.lifecycle!.preStop!.sleep!.seconds;
    const shutdownMs = loadConfig({ ...configMap.data, ...SECRETS }).shutdownTimeoutMs;
    expect(pause).toBeGreaterThan(0);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(pause * 1000 + shutdownMs);
  });

  it('migrates with a Job running the compose file’s migrate command, from the same image, a bounded number of times', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { image: string; command: string[] }> };
    expect(migrate.command).toEqual(compose.services.migrate.command);
    expect(fs.existsSync(path.join(projectRoot, migrate.command![1].replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    expect(migrate.image).toBe(api.image);
    expect(api.image!.split(':')[0]).toBe(compose.services.api.image);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(job.spec.backoffLimit).toBeLessThanOrEqual(3);
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
  });

  it('reads its settings from the ConfigMap and the Secret, which together pass the service’s production configuration check', () => {
    for (const container of [api, migrate]) {
      expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }, { secretRef: { name: secretExample.metadata.name } }]);
    }
    expect(Object.keys(secretExample.stringData).sort()).toEqual(Object.keys(SECRETS).sort());
    const config = loadConfig({ ...configMap.data, ...SECRETS });
    expect({ env: config.env, migrateOnStart: config.migrateOnStart, trustProxy: config.http.trustProxy }).toEqual({
      env: 'production',
      migrateOnStart: false,
      trustProxy: 1,
    });
  });

  it('shows the Secret with a placeholder the service refuses, so applying the example unchanged starts nothing', () => {
    expect(() => loadConfig({ ...configMap.data, ...secretExample.stringData })).toThrow(/JWT_SECRET/);
  });

  it('autoscales on CPU between three pods and as many as the database’s connections allow (README: 90 without PgBouncer)', () => {
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBe(deployment.spec.replicas);
    const poolSize = Number(configMap.data.DB_POOL_SIZE);
    const surge = 1;
    expect((hpa.spec.maxReplicas + surge) * poolSize).toBeLessThanOrEqual(90);
  });
});
