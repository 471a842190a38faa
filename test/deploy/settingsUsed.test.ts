// Every setting the deployment files pass to the gateway (the Dockerfile's ENV, the Swarm stack's environment, the
// Kubernetes ConfigMap and env) is one src/settings.ts reads, and their values load: a misspelt or removed setting
// would otherwise be ignored without a word. nginx's variables in the stack are ones its template uses.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadSettings } from '../../src/settings';
import { renderKustomize } from './support/renderKustomize';

const ROOT = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The settings src/settings.ts reads: the keys of its schema, and X_FILE for each secret X. */
const settingsSource = read('src/settings.ts');
const schemaBlock = settingsSource.slice(settingsSource.indexOf('const schema = z.object({'), settingsSource.indexOf('\n});'));
const SETTINGS = new Set([...schemaBlock.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]));
const SECRET = new RegExp(/const SECRET = \/(.+)\/;/.exec(settingsSource)![1]);
const isSetting = (name: string) => SETTINGS.has(name) || SECRET.test(name)
  || (name.endsWith('_FILE') && SECRET.test(name.slice(0, -'_FILE'.length)));

/** Compose's `${NAME:-default}` as the stack is deployed with nothing set. */
const withDefaults = (value: unknown) => String(value).replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');

/** Loads settings as the gateway would, the secret files replaced by stand-ins. */
function load(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'dbapi-settings-'));
  try {
    writeFileSync(join(dir, 'bearer'), 'deploy-test-token-0123456789abcdef\n');
    writeFileSync(join(dir, 'url'), 'postgres://dbapi:secret@db:5432/dbapi\n');
    return loadSettings({ ...env, BEARER_FILE: join(dir, 'bearer'), DATABASE_URL_FILE: join(dir, 'url') }, ROOT);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the settings list is read from src/settings.ts', () => {
  expect(SETTINGS.size).toBeGreaterThan(20);
  for (const name of ['PORT', 'DATABASE_URL', 'BEARER', 'LOG_FILE', 'SHUTDOWN_TIMEOUT_MS']) expect(SETTINGS.has(name)).toBe(true);
  expect(isSetting('BEARER_FILE') && isSetting('DATABASE_URL_FILE') && !isSetting('PORT_FILE') && !isSetting('DB_POOL_MAXX')).toBe(true);
});

test('the Dockerfile\'s ENV: each a setting (NODE_ENV is Node\'s own)', () => {
  const env = [...read('Dockerfile').matchAll(/^\s*(?:ENV\s+)?([A-Z][A-Z0-9_]*)=\S+/gm)].map((m) => m[1]);
  expect(env).toEqual(['NODE_ENV', 'ENVIRONMENT', 'HOST', 'PORT']);
  for (const name of env.filter((n) => n !== 'NODE_ENV')) expect([name, isSetting(name)]).toEqual([name, true]);
});

test('docker-stack.yml: every variable given to the gateway is a setting, and the values load', () => {
  const stack = parse(read('docker-stack.yml'), { merge: true });
  const env: Record<string, string> = Object.fromEntries(Object.entries(stack.services.dbapi.environment)
    .map(([k, v]) => [k, withDefaults(v)]));
  expect(Object.keys(env).length).toBeGreaterThan(5);
  for (const name of Object.keys(env)) expect([name, isSetting(name)]).toEqual([name, true]);
  const settings = load({ ...env, LOG_FILE: env.LOG_FILE.replace('{{.Task.Slot}}', '1') });
  expect(settings.environment).toBe('production');
  expect(settings.port).toBe(8000);
});

test('docker-stack.yml: nginx\'s variables are the ones its template uses', () => {
  const stack = parse(read('docker-stack.yml'), { merge: true });
  const template = read('nginx/templates/dbapi.conf.template');
  for (const name of Object.keys(stack.services.nginx.environment)) expect([name, template.includes(`\${${name}}`)]).toEqual([name, true]);
});

test('k8s/ (production): every variable given to the gateway is a setting, and the values load', () => {
  const docs = renderKustomize('overlays/production');
  const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('dbapi-settings-'))!;
  const gateway = docs.find((d) => d.kind === 'Deployment')!.spec.template.spec.containers.find((c: any) => c.name === 'dbapi');
  const env: Record<string, string> = { ...configMap.data };
  for (const e of gateway.env) env[e.name] = e.value;
  expect(Object.keys(env).length).toBeGreaterThan(5);
  for (const name of Object.keys(env)) expect([name, isSetting(name)]).toEqual([name, true]);
  const settings = load(env);
  expect(settings.environment).toBe('production');
  expect(settings.port).toBe(gateway.ports[0].containerPort);
});
