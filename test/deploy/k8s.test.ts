// k8s/ rendered with kustomize (base and production overlay) and every object validated offline against the
// Kubernetes API schemas (kubernetes-models: the OpenAPI schemas compiled to validators), then inspected for what a
// safe rollout of the gateway needs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { K8S_DIR, renderKustomize, type Manifest } from './support/renderKustomize';

const base = renderKustomize('base');
const production = renderKustomize('overlays/production');
const find = (docs: Manifest[], kind: string, name = 'dbapi') =>
  docs.find((d) => d.kind === kind && (d.metadata.name === name || d.metadata.name.startsWith(`${name}-`)))!;

type Model = new (data: unknown) => { validate(): void };

/** The kubernetes-models class for an object: kubernetes-models/apps/v1's Deployment and so on. */
function modelFor(doc: Manifest): Model {
  let group: Record<string, Model> | undefined;
  try {
    group = require(`kubernetes-models/${doc.apiVersion}`); // eslint-disable-line @typescript-eslint/no-require-imports
  } catch { /* an unknown API group */ }
  const model = group?.[doc.kind];
  if (!model) throw new Error(`no Kubernetes schema for ${doc.apiVersion} ${doc.kind}`);
  return model;
}

test.each([['base', base], ['overlays/production', production]])('%s: every object is valid against the Kubernetes API schema', (_, docs) => {
  expect(docs.length).toBeGreaterThanOrEqual(6);
  for (const doc of docs) {
    const Model = modelFor(doc);
    expect(() => new Model(doc).validate()).not.toThrow();
  }
});

test('the schemas are really checked: a wrong type or a missing required field is refused', () => {
  const deployment = structuredClone(find(production, 'Deployment'));
  deployment.spec.template.spec.containers[0].ports[0].containerPort = '8000';
  expect(() => new (modelFor(deployment))(deployment).validate()).toThrow(/containerPort must be integer/);
  const service = structuredClone(find(production, 'Service'));
  delete service.spec.ports[0].port;
  expect(() => new (modelFor(service))(service).validate()).toThrow(/port/);
});

test('production: the objects the issue lists, in one namespace, with the secrets and settings wired by name', () => {
  const kinds = production.map((d) => d.kind).sort();
  expect(kinds).toEqual(['ConfigMap', 'ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Namespace',
    'PodDisruptionBudget', 'Secret', 'Service']);
  for (const d of production.filter((x) => x.kind !== 'Namespace')) expect(d.metadata.namespace).toBe('dbapi');
  const secret = find(production, 'Secret', 'dbapi-secrets');
  expect(Object.keys(secret.data).sort()).toEqual(['bearer', 'database-url']);
  const pod = find(production, 'Deployment').spec.template.spec;
  expect(pod.volumes.find((v: any) => v.name === 'secrets').secret.secretName).toBe(secret.metadata.name); // hashed name
  const settings = find(production, 'ConfigMap', 'dbapi-settings');
  expect(pod.containers[0].envFrom[0].configMapRef.name).toBe(settings.metadata.name);
  expect(find(production, 'Deployment').spec.replicas).toBe(10);
  expect(pod.containers[0].image).toBe('registry.example.com/dbapi:0.1.0');
});

test('the Deployment: zero-downtime rollout, probes, drain, resources, non-root with a read-only root', () => {
  const deployment = find(production, 'Deployment');
  expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  const pod = deployment.spec.template.spec;
  const gateway = pod.containers.find((c: any) => c.name === 'dbapi');
  expect(gateway.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'management' });
  expect(gateway.livenessProbe.httpGet).toEqual({ path: '/health', port: 'management' });
  expect(gateway.startupProbe.httpGet).toEqual({ path: '/health', port: 'management' });
  expect(gateway.ports).toEqual([{ name: 'http', containerPort: 8000 }, { name: 'management', containerPort: 9100 }]);
  const settings = find(production, 'ConfigMap', 'dbapi-settings').data;
  expect([settings.PORT, settings.METRICS_PORT]).toEqual(['8000', '9100']); // the ports above
  // preStop, then the drain (SHUTDOWN_TIMEOUT_MS), then ending the pools (up to 5 s): all inside the grace period.
  const preStopS = Number(gateway.lifecycle.preStop.exec.command[1]);
  expect(preStopS).toBeGreaterThan(0);
  expect(preStopS + Number(settings.SHUTDOWN_TIMEOUT_MS) / 1000 + 5).toBeLessThan(pod.terminationGracePeriodSeconds);
  expect(gateway.resources.requests).toEqual({ cpu: '250m', memory: '256Mi' });
  expect(gateway.resources.limits.memory).toBeDefined();
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 });
  for (const c of [...pod.containers, ...pod.initContainers]) {
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  }
  // The one writable place: logs/ (LOG_FILE) on an emptyDir the filebeat sidecar reads.
  const logsMount = gateway.volumeMounts.find((m: any) => m.name === 'logs');
  expect(logsMount.mountPath).toBe('/app/logs');
  expect(settings.LOG_FILE).toMatch(/^logs\/[^/]+\.log$/);
  expect(pod.volumes.find((v: any) => v.name === 'logs').emptyDir).toBeDefined();
  // Secrets as files, named by *_FILE.
  const env = Object.fromEntries(gateway.env.map((e: any) => [e.name, e.value]));
  const secretsMount = gateway.volumeMounts.find((m: any) => m.name === 'secrets');
  expect(env.BEARER_FILE).toBe(`${secretsMount.mountPath}/bearer`);
  expect(env.DATABASE_URL_FILE).toBe(`${secretsMount.mountPath}/database-url`);
});

test('log shipping: filebeat runs as a native sidecar reading logs/ with the stack\'s own filebeat.yml', () => {
  const pod = find(production, 'Deployment').spec.template.spec;
  const filebeat = pod.initContainers.find((c: any) => c.name === 'filebeat');
  expect(filebeat.restartPolicy).toBe('Always'); // a sidecar: up before the gateway, down after it
  expect(filebeat.volumeMounts).toContainEqual({ name: 'logs', mountPath: '/app/logs', readOnly: true });
  expect(filebeat.image).toBe(readFileSync(join(K8S_DIR, '..', 'docker-stack.yml'), 'utf8').match(/FILEBEAT_IMAGE:-([^}]+)\}/)![1]);
  const config = find(production, 'ConfigMap', 'dbapi-filebeat').data['filebeat.yml'];
  expect(config).toBe(readFileSync(join(K8S_DIR, '..', 'filebeat.yml'), 'utf8'));
  expect(readFileSync(join(K8S_DIR, 'base', 'filebeat.yml'), 'utf8')).toBe(readFileSync(join(K8S_DIR, '..', 'filebeat.yml'), 'utf8'));
  for (const name of config.match(/\$\{([A-Z_]+)/g)!.map((m: string) => m.slice(2))) {
    expect(filebeat.env.map((e: any) => e.name)).toContain(name); // every variable filebeat.yml uses is given
  }
});

test('PodDisruptionBudget, HorizontalPodAutoscaler and Service select the gateway pods', () => {
  const deployment = find(production, 'Deployment');
  const labels = deployment.spec.template.metadata.labels;
  const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
  expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
  const pdb = find(production, 'PodDisruptionBudget');
  expect(pdb.spec.maxUnavailable).toBe(1);
  expect(selects(pdb.spec.selector.matchLabels)).toBe(true);
  const service = find(production, 'Service');
  expect(selects(service.spec.selector)).toBe(true);
  expect(service.spec.ports[0].targetPort).toBe('http');
  const hpa = find(production, 'HorizontalPodAutoscaler');
  expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'dbapi' });
  expect(hpa.spec.minReplicas).toBe(10);
  // At most as many pods (plus the surge) as the database's default max_connections 100 allows at DB_POOL_MAX each.
  const poolMax = Number(find(production, 'ConfigMap', 'dbapi-settings').data.DB_POOL_MAX);
  expect((hpa.spec.maxReplicas + deployment.spec.strategy.rollingUpdate.maxSurge) * poolMax).toBeLessThanOrEqual(100);
});
