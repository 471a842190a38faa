// Database faults caused for real (killed backends, a database that goes away, a full pool, timeouts, conflicts).
import { join } from 'node:path';
import postgres from 'postgres';
import { startTestApp, ROOT, type TestApp } from './support/startTestApp';
import { createTestDatabase, serverUrl, type TestDatabase } from './support/testDatabase';
import { startTcpProxy, type TcpProxy } from './support/tcpProxy';

const MODULES = [join(ROOT, 'modules'), join(ROOT, 'test', 'fixtures', 'reliability')];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await what()) return Date.now() - start;
    await sleep(50);
  }
  throw new Error(`not true within ${ms} ms`);
}

describe('a connection killed inside a transaction', () => {
  let app: TestApp;
  let admin: postgres.Sql;
  beforeAll(async () => {
    app = await startTestApp({ moduleDirs: MODULES });
    admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await admin.end();
    await app.close();
  });
  const killSleepers = async () => {
    await waitFor(async () => (await admin`
      select pg_terminate_backend(pid) from pg_stat_activity
      where application_name = 'dbapi' and query like '%pg_sleep%' and pid <> pg_backend_pid()`).length > 0, 5_000);
  };

  test('answers 503 with Retry-After, rolls back, and the process keeps serving', async () => {
    const call = app.call('/faulty/write', { note: 'killed', seconds: 5 });
    await killSleepers();
    const res = await call;
    expect([res.status, res.body.error.code]).toEqual([503, 'unavailable']);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await app.call('/faulty/count', { note: 'killed' })).body).toBe(0);
    expect((await app.call('/faulty/write', { note: 'after' })).status).toBe(200);
  });

  test('a handler that swallows the error cannot write outside its transaction', async () => {
    const call = app.call('/faulty/stubborn', { note: 'stubborn', seconds: 5 });
    await killSleepers();
    expect((await call).status).toBe(503);
    await sleep(300);
    expect((await app.call('/faulty/count', { note: 'stubborn' })).body).toBe(0);
  });

  test('a write with an Idempotency-Key, killed, then retried, lands exactly once', async () => {
    const headers = { 'idempotency-key': 'kill-retry-1' };
    const call = app.call('/faulty/write', { note: 'kr', seconds: 3 }, { headers });
    await killSleepers();
    expect((await call).status).toBe(503);
    // The killed attempt stored nothing (rolled back): the retry runs it; the next retry replays it.
    const retry = await app.call('/faulty/write', { note: 'kr', seconds: 3 }, { headers });
    expect([retry.status, retry.headers.get('idempotency-replayed')]).toEqual([200, null]);
    const replay = await app.call('/faulty/write', { note: 'kr', seconds: 3 }, { headers });
    expect([replay.status, replay.headers.get('idempotency-replayed'), replay.text]).toEqual([200, 'true', retry.text]);
    expect((await app.call('/faulty/count', { note: 'kr' })).body).toBe(1);
  });
});

describe('the database goes away and comes back', () => {
  let app: TestApp;
  let proxy: TcpProxy;
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
    const target = new URL(database.url);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    app = await startTestApp({
      moduleDirs: MODULES,
      env: { DATABASE_URL: proxy.url(database.url), DB_CONNECT_TIMEOUT_MS: '1000', DB_ACQUIRE_TIMEOUT_MS: '1500' },
    });
  });
  afterAll(async () => {
    await app.close();
    await proxy.close();
    await database.drop();
  });

  test('while down: /ready 503, calls 503 + Retry-After within a few seconds; back: recovers within about 2 s', async () => {
    proxy.down();
    const ready = await app.call('/ready', undefined, { method: 'GET' });
    expect(ready.status).toBe(503);
    const started = Date.now();
    const res = await app.call('/faulty/write', { note: 'outage' });
    expect([res.status, res.body.error.code, res.headers.get('retry-after')]).toEqual([503, 'unavailable', '1']);
    expect(Date.now() - started).toBeLessThan(5_000);
    await sleep(2_000); // let postgres.js's reconnect backoff grow
    proxy.up();
    const took = await waitFor(async () => (await app.call('/faulty/write', { note: 'back' })).status === 200, 10_000);
    expect(took).toBeLessThan(3_000);
    expect((await app.call('/ready', undefined, { method: 'GET' })).status).toBe(200);
  });

  test('a restart (every connection cut) answers 503 to calls in flight, then serves', async () => {
    const inflight = app.call('/faulty/write', { note: 'restart', seconds: 3 });
    await sleep(500);
    proxy.cut();
    expect((await inflight).status).toBe(503);
    expect((await app.call('/faulty/write', { note: 'restart2' })).status).toBe(200);
    expect((await app.call('/faulty/count', { note: 'restart' })).body).toBe(0);
  });
});

describe('no connection free in time', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ moduleDirs: MODULES, env: { DB_POOL_MAX: '1', DB_ACQUIRE_TIMEOUT_MS: '300' } });
  });
  afterAll(() => app.close());

  test('503 + Retry-After after the bounded wait, and the abandoned call never runs later', async () => {
    const busy = app.call('/faulty/write', { note: 'busy', seconds: 1.5 });
    await sleep(200);
    const res = await app.call('/faulty/write', { note: 'abandoned' });
    expect([res.status, res.headers.get('retry-after')]).toEqual([503, '1']);
    expect((await busy).status).toBe(200);
    await sleep(500);
    expect((await app.call('/faulty/count', { note: 'abandoned' })).body).toBe(0);
  });
});

describe('timeouts and conflicts', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ moduleDirs: MODULES });
  });
  afterAll(() => app.close());

  test('an action\'s own statement timeout: 504 and rollback', async () => {
    const res = await app.call('/faulty/quick', { note: 'quick', seconds: 2 });
    expect([res.status, res.body.error.code]).toEqual([504, 'timeout']);
    expect((await app.call('/faulty/count', { note: 'quick' })).body).toBe(0);
    expect((await app.call('/faulty/quick', { note: 'quick', seconds: 0 })).status).toBe(200);
  });

  test('serialization failures: 409 without the option, retried to success with it', async () => {
    const plain = await Promise.all(Array.from({ length: 6 }, () => app.call('/faulty/increment_once')));
    const statuses = plain.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
    expect(statuses).toContain(409);
    const before = (await app.call('/faulty/counter')).body;
    const retried = await Promise.all(Array.from({ length: 4 }, () => app.call('/faulty/increment')));
    expect(retried.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await app.call('/faulty/counter')).body).toBe(before + 4);
  });
});
