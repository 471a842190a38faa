// The gateway behind a real PgBouncer in transaction mode (DB_PREPARE=false): calls, batches, Idempotency-Key,
// streaming, transaction-local set_config, migrations, and a PgBouncer restart under load.
import postgres from 'postgres';
import { startTestApp, type TestApp } from './support/startTestApp';
import { createTestDatabase, serverUrl, type TestDatabase } from './support/testDatabase';
import { startPgBouncer, type PgBouncer } from './support/startPgBouncer';

let bouncer: PgBouncer;
let database: TestDatabase;
let app: TestApp;
let direct: ReturnType<typeof postgres>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  database = await createTestDatabase();
  // Fewer server connections than the gateway's pool: server sessions are shared between the gateway's connections.
  bouncer = await startPgBouncer(serverUrl(), { poolSize: 4 });
  // Migrations run at start through PgBouncer too: they take a transaction-level advisory lock.
  app = await startTestApp({ env: { DATABASE_URL: bouncer.url(database.url), DB_PREPARE: 'false', DB_POOL_MAX: '10', LOG_LEVEL: 'warn' } });
  direct = postgres(database.url, { max: 2, onnotice: () => {} });
}, 60_000);

afterAll(async () => {
  await direct?.end();
  await app?.close();
  await bouncer?.close();
  await database?.drop();
});

test('calls, /_batch, Idempotency-Key and streaming work through transaction pooling', async () => {
  const calls = await Promise.all(Array.from({ length: 60 }, (_, i) => app.call('/example/bar', { name: `pgb${i % 7}` })));
  expect(new Set(calls.map((c) => c.status))).toEqual(new Set([200]));
  expect(calls[0].body).toEqual([{ name: 'pgb0', email: null }]);
  const batch = await app.call('/_batch', { calls: [{ action: 'probe/insert', params: { note: 'pgb-batch' } }, { action: 'probe/count', params: { note: 'pgb-batch' } }] });
  expect([batch.status, batch.body.results[1]]).toEqual([200, 1]);
  const key = { headers: { 'idempotency-key': 'pgb-key-1' } };
  const [first, again] = [await app.call('/probe/insert', { note: 'pgb-idem' }, key), await app.call('/probe/insert', { note: 'pgb-idem' }, key)];
  expect([first.status, again.status, again.body, again.headers.get('idempotency-replayed')]).toEqual([200, 200, first.body, 'true']);
  expect((await app.call('/probe/count', { note: 'pgb-idem' })).body).toBe(1);
  const streamed = await app.call('/rows/series', { n: 20_000 });
  const lines = streamed.text.trim().split('\n');
  expect([streamed.status, lines.length, JSON.parse(lines[19_999])]).toEqual([200, 20_000, { i: 20_000, label: 'row 20000' }]);
  expect((await direct`select count(*)::int as n from dbapi_migrations`)[0].n).toBeGreaterThan(0);
});

test('transaction-local set_config (the caller identity) never leaks to another transaction on a shared server session', async () => {
  const seen = await Promise.all(Array.from({ length: 40 }, (_, i) => app.db.transaction('default', { readOnly: true, settings: { 'dbapi.caller': `caller${i}` } }, async (tx) => {
    await tx`select pg_sleep(0.005)`;
    return (await tx`select current_setting('dbapi.caller', true) as c`)[0].c;
  })));
  expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `caller${i}`));
  const after = await Promise.all(Array.from({ length: 20 }, () => app.db.transaction('default', { readOnly: true }, async (tx) => (await tx`select current_setting('dbapi.caller', true) as c`)[0].c)));
  expect(after.every((c) => c === null || c === '')).toBe(true);
});

test('MIGRATE_DATABASE_URL: migrations go direct while the gateway\'s pool points elsewhere', async () => {
  const other = await createTestDatabase();
  try {
    // The gateway's own URL goes through PgBouncer (stopped here: nothing can pass it); migrations need only the direct one.
    const migrated = await startTestApp({ env: { DATABASE_URL: bouncer.url(other.url).replace(/:\d+\//, ':1/'), MIGRATE_DATABASE_URL: other.url, DB_PREPARE: 'false', LOG_LEVEL: 'warn' } });
    await migrated.close();
    const sql = postgres(other.url, { max: 1, onnotice: () => {} });
    try {
      expect((await sql`select count(*)::int as n from dbapi_migrations`)[0].n).toBeGreaterThan(0);
    } finally {
      await sql.end();
    }
  } finally {
    await other.drop();
  }
});

test('a PgBouncer restart under load: calls answer 503 with Retry-After, then recover; retried with their key, nothing is lost or doubled', async () => {
  let running = true;
  const statuses = new Map<number, number>();
  let retryAfterMissing = 0;
  const keys: string[] = [];
  const load = Array.from({ length: 8 }, async (_, n) => {
    for (let i = 0; running; i++) {
      const note = `restart-${n}-${i}`;
      keys.push(note);
      for (let attempt = 0; ; attempt++) {
        const res = await app.call('/probe/insert', { note }, { headers: { 'idempotency-key': note } });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) break;
        if (res.status === 503 && !res.headers.get('retry-after')) retryAfterMissing++;
        if (attempt > 200) throw new Error(`${note} still ${res.status}`);
        await sleep(50);
      }
    }
  });
  await sleep(300);
  await bouncer.stop();
  await sleep(400);
  await bouncer.start();
  await sleep(700);
  running = false;
  await Promise.all(load);
  expect([...statuses.keys()].sort()).toEqual([200, 503]);
  expect(retryAfterMissing).toBe(0);
  const rows = await direct<{ note: string; n: number }[]>`select note, count(*)::int as n from probe_rows where note like 'restart-%' group by note`;
  const counts = new Map(rows.map((r) => [r.note, r.n]));
  expect(keys.filter((k) => counts.get(k) !== 1)).toEqual([]);
  expect(rows.length).toBe(keys.length);
}, 30_000);
