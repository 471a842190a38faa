// End to end: the shipped nginx config (Debian's nginx) in front of two real gateway replicas on loopback.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { writeNginxConfig } from './support/nginxConfig';
import { freePort, startReplica, waitUntil, type Replica } from './support/startReplica';

const TOKEN = 'e2e-token-0123456789abcdef';
const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find(existsSync) ?? 'nginx';

let dir: string;
let database: TestDatabase;
let nginx: ChildProcess;
let nginxUrl: string;
let confFile: string;
const replicas: Replica[] = [];

function replicaEnv(): Record<string, string> {
  return {
    ENVIRONMENT: 'test',
    DATABASE_URL: database.url,
    BEARER: TOKEN,
    LOG_LEVEL: 'info',
    MIGRATE_ON_START: 'true',
    SHUTDOWN_TIMEOUT_MS: '10000', // as in production: above nginx's upstream keepalive_timeout (5 s)
  };
}

async function restart(i: number): Promise<void> {
  const { port, logFile } = replicas[i];
  replicas[i] = await startReplica({ port, logFile, env: replicaEnv() });
}

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(nginxUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    body: JSON.stringify(body),
  });
}

/** The access lines a replica wrote, parsed. */
function accessLines(r: Replica): Array<Record<string, any>> {
  if (!existsSync(r.logFile)) return [];
  return readFileSync(r.logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .filter((l) => l.http?.response?.status_code !== undefined);
}

beforeAll(async () => {
  const version = spawnSync(NGINX, ['-v']);
  if (version.error) throw new Error(`nginx is needed for this test (apt-get install -y nginx): ${version.error.message}`);
  dir = mkdtempSync(join(tmpdir(), 'dbapi-e2e-'));
  database = await createTestDatabase();
  const ports = [await freePort(), await freePort()];
  for (const [i, port] of ports.entries()) {
    replicas.push(await startReplica({ port, logFile: join(dir, `replica-${i}.log`), env: replicaEnv() }));
  }
  const nginxPort = await freePort();
  confFile = writeNginxConfig({ dir, port: nginxPort, upstreamPorts: ports });
  nginx = spawn(NGINX, ['-p', dir, '-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let nginxErr = '';
  nginx.stderr!.on('data', (c) => (nginxErr += c));
  nginxUrl = `http://127.0.0.1:${nginxPort}`;
  await waitUntil(async () => {
    if (nginx.exitCode !== null) throw new Error(`nginx exited: ${nginxErr}`);
    return (await fetch(`${nginxUrl}/nginx-health`).catch(() => undefined))?.status === 200;
  }, 10_000, 'nginx');
}, 90_000);

afterAll(async () => {
  for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
  await Promise.all(replicas.map((r) => r.exited));
  if (nginx && nginx.exitCode === null) {
    nginx.kill('SIGQUIT');
    await new Promise((r) => nginx.once('exit', r));
  }
  await database?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

test('the rendered config passes nginx -t', () => {
  const t = spawnSync(NGINX, ['-t', '-p', dir, '-c', confFile], { encoding: 'utf8' });
  expect([t.status, t.stderr]).toEqual([0, expect.stringContaining('test is successful')]);
});

test('requests spread over the replicas, and the request id nginx set is in the replica log line', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await post('/example/foo', { name: `spread${i}` });
    expect(res.status).toBe(200);
    await res.text();
    ids.push(res.headers.get('x-request-id')!);
  }
  expect(ids.every((id) => /^[0-9a-f]{32}$/.test(id))).toBe(true); // nginx's $request_id: the caller sent none
  const own = await post('/example/foo', { name: 'own' }, { 'x-request-id': 'caller-id-42' });
  await own.text();
  expect(own.headers.get('x-request-id')).toBe('caller-id-42');
  await waitUntil(() => {
    const logged = new Set(replicas.flatMap((r) => accessLines(r).map((l) => l.http.request.id)));
    return [...ids, 'caller-id-42'].every((id) => logged.has(id));
  }, 5_000, 'the access lines of every request id');
  const served = replicas.map((r) => accessLines(r).filter((l) => ids.includes(l.http.request.id)).length);
  console.log(`e2e spread: ${served.join(' + ')} of ${ids.length} requests per replica`);
  expect(served.every((n) => n >= 5)).toBe(true);
});

test('nginx answers an over-limit body itself, as the gateway would: 413 JSON', async () => {
  const res = await post('/example/foo', { name: 'x'.repeat(1024 * 1024 + 1) });
  const body = (await res.json()) as any;
  expect([res.status, body.error.code]).toEqual([413, 'payload_too_large']);
  expect(body.error.requestId).toBe(res.headers.get('x-request-id'));
});

test('a replica killed with SIGKILL between requests is invisible to callers', async () => {
  replicas[0].child.kill('SIGKILL');
  expect(await replicas[0].exited).toBe('SIGKILL');
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await post('/example/bar', { name: `killed${i % 3}` });
    await res.text();
    statuses.push(res.status);
  }
  expect(statuses).toEqual(Array(20).fill(200));
  await restart(0);
}, 60_000);

test('a rolling restart under steady POST load fails no request', async () => {
  let running = true;
  let sent = 0;
  const failures: string[] = [];
  const worker = async (w: number) => {
    for (let i = 0; running; i++) {
      sent++;
      try {
        const res = await post('/example/bar', { name: `load${w}-${i % 20}`, email: `w${w}@example.com` });
        const text = await res.text();
        if (res.status !== 200) failures.push(`${res.status} ${text}`);
      } catch (e) {
        failures.push(String((e as Error).cause ?? e));
      }
    }
  };
  const load = Array.from({ length: 8 }, (_, w) => worker(w));
  const drains: number[] = [];
  await new Promise((r) => setTimeout(r, 500));
  for (const i of [0, 1, 0, 1]) { // two rounds: each replica is stopped and started twice
    const started = Date.now();
    replicas[i].child.kill('SIGTERM');
    expect(await replicas[i].exited).toBe(0);
    drains.push(Date.now() - started);
    await restart(i);
    await new Promise((r) => setTimeout(r, 1_000)); // the restarted replica takes load before the next one goes
  }
  running = false;
  await Promise.all(load);
  const lines = replicas.map((r) => accessLines(r).filter((l) => l.url?.path === '/example/bar').length);
  console.log(`e2e rolling restart: ${sent} requests sent, ${failures.length} failed; drains took ${drains.join(' ms, ')} ms; bar lines per replica log ${lines.join(' + ')}`);
  expect(failures).toEqual([]);
  expect(sent).toBeGreaterThan(50);
}, 90_000);
