// Read replicas with a real streaming replica: reads land on it, writes on the primary, read-your-writes with replay
// delayed, a lagging replica skipped, and the replica stopped and started under load without a failed call.
import { join } from 'node:path';
import postgres from 'postgres';
import { startTestApp, ROOT, type TestApp, type CallResult } from './support/startTestApp';
import { startStreamingPair, type StreamingPair } from './support/streamingReplica';
import type { ReplicaState } from '../lib/db/replicaSet';
import { createClient } from '../client';
import { TOKEN } from './support/startTestApp';
import type rw from './fixtures/replicas/rw';
import { parseLsn } from '../lib/db/parseLsn';
import { startPgBouncer } from './support/startPgBouncer';

let pair: StreamingPair;
let app: TestApp;
let replicaSql: ReturnType<typeof postgres>;

const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  pair = await startStreamingPair();
  app = await startTestApp({
    moduleDirs: [join(ROOT, 'test', 'fixtures', 'replicas')],
    env: { DATABASE_URL: pair.primary.url, DATABASE_URL_REPLICAS: pair.replica.url, DB_REPLICA_CHECK_MS: '100', DB_REPLICA_MAX_LAG_MS: '2000', LOG_LEVEL: 'warn' },
  });
  replicaSql = postgres(pair.replica.url, { max: 1, onnotice: () => {} });
  await replicaState('up');
}, 60_000);

afterAll(async () => {
  await replicaSql?.end();
  await app?.close();
  await pair?.close();
});

function replica() {
  return app.db.replicas.get('default')!.replicas[0];
}

async function replicaState(state: ReplicaState, withinMs = 10_000): Promise<void> {
  for (const until = Date.now() + withinMs; replica().state !== state; await sleep(20)) {
    if (Date.now() > until) throw new Error(`replica still ${replica().state}, not ${state}`);
  }
}

async function applyDelay(ms: number): Promise<void> {
  await replicaSql.unsafe(`alter system set recovery_min_apply_delay = '${ms}ms'`);
  await replicaSql`select pg_reload_conf()`;
}

const put = (key: string, value: number) => app.call('/rw/put', { key, value });
const get = (key: string, minLsn?: string) => app.call('/rw/get', { key }, minLsn ? { headers: { 'dbapi-min-lsn': minLsn } } : {});

test('reads land on the replica, writes on the primary; a write answers Dbapi-Lsn, which brings a read its write', async () => {
  const w = await put('a', 1);
  expect([200, false]).toEqual([w.status, w.body.standby]);
  const lsn = w.headers.get('dbapi-lsn')!;
  expect(lsn).toMatch(LSN);
  // Sent back, the LSN makes the read wait for a replica that has replayed the write (the primary meanwhile).
  expect((await get('a', lsn)).body.value).toBe(1);
  let read: CallResult;
  for (const until = Date.now() + 5_000; !(read = await get('a', lsn)).body.standby; await sleep(20)) {
    if (Date.now() > until) throw new Error('reads never reached the replica');
  }
  expect([200, true, 1]).toEqual([read.status, read.body.standby, read.body.value]);
  expect(replica().replayLsn).toBeGreaterThan(0n);
  // Reads are not given an LSN; a bad Dbapi-Min-Lsn is a 400.
  expect(read.headers.get('dbapi-lsn')).toBeNull();
  expect([400, 'invalid_params']).toEqual([(await get('a', 'nope')).status, (await get('a', 'nope')).body.error.code]);
  // A write with an Idempotency-Key answers its LSN too, first and replayed; a read-only batch runs on the replica.
  const keyed = [await app.call('/rw/put', { key: 'k', value: 2 }, { headers: { 'idempotency-key': 'rw-1' } }), await app.call('/rw/put', { key: 'k', value: 2 }, { headers: { 'idempotency-key': 'rw-1' } })];
  expect(keyed.map((r) => [r.status, LSN.test(r.headers.get('dbapi-lsn') ?? '')])).toEqual([[200, true], [200, true]]);
  const batch = await app.call('/_batch', { calls: [{ action: 'rw/get', params: { key: 'a' } }, { action: 'rw/get', params: { key: 'a' } }] });
  expect(batch.body.results).toEqual([{ standby: true, value: 1 }, { standby: true, value: 1 }]);
  const metrics = (await app.call('/metrics', undefined, { method: 'GET', token: null })).text;
  expect(metrics).toMatch(/dbapi_replica_state\{database="default",replica="127\.0\.0\.1:\d+",state="up"\} 1/);
  expect(metrics).toMatch(/dbapi_replica_calls\{database="default",replica="127\.0\.0\.1:\d+"\} [1-9]/);
});

test('a write whose handler returns its query (COMMIT sent with it) answers Dbapi-Lsn too, which brings a read its write', async () => {
  const w = await app.call('/rw/put_last', { key: 'last', value: 5 });
  expect([w.status, w.body]).toEqual([200, [{ value: 5 }]]);
  expect(w.headers.get('dbapi-lsn')).toMatch(LSN);
  expect((await get('last', w.headers.get('dbapi-lsn')!)).body.value).toBe(5);
});

test('read-your-writes under load while replay is delayed: every read sees its own preceding write', async () => {
  await applyDelay(300);
  try {
    const seen = { standby: 0, primary: 0 };
    const failures: CallResult[] = [];
    await Promise.all(Array.from({ length: 8 }, async (_, session) => {
      let lsn: string | undefined;
      for (let i = 1; i <= 15; i++) {
        const w = await put(`s${session}`, i);
        if (w.status !== 200) failures.push(w);
        lsn = w.headers.get('dbapi-lsn') ?? lsn;
        const r = await get(`s${session}`, lsn);
        if (r.status !== 200) failures.push(r);
        else {
          expect(r.body.value).toBe(i);
          seen[r.body.standby ? 'standby' : 'primary']++;
        }
      }
      // Once replayed, the same LSN is served by the replica.
      await sleep(600);
      expect((await get(`s${session}`, lsn)).body).toEqual({ standby: true, value: 15 });
    }));
    expect(failures).toEqual([]);
    expect(seen.primary).toBeGreaterThan(0); // the delayed replica had not replayed them yet
  } finally {
    await applyDelay(0);
  }
});

test('a replica thought to have replayed a Dbapi-Min-Lsn but behind it after all: checked in the transaction, served by the primary', async () => {
  await applyDelay(1_000);
  try {
    const lsn = (await put('behind', 7)).headers.get('dbapi-lsn')!;
    replica().replayLsn = parseLsn(lsn)!; // a stale view, as just after the replica restarted
    const read = (minLsn?: bigint) => app.db.transaction('default', { readOnly: true }, async (tx) => (await tx`select pg_is_in_recovery() as standby, (select value from rw_kv where key = 'behind') as value`)[0], { minLsn });
    expect(await read(parseLsn(lsn))).toEqual({ standby: false, value: 7 });
    expect(replica().state).toBe('up'); // behind is no outage
  } finally {
    await applyDelay(0);
  }
});

test('the typed client carries the highest Dbapi-Lsn it was answered as Dbapi-Min-Lsn: its reads see its writes', async () => {
  await applyDelay(300);
  try {
    const sent: Array<string | null> = [];
    const client = createClient<{ rw: typeof rw }>({
      baseUrl: app.url, token: TOKEN,
      fetch: (url, init) => (sent.push(new Headers(init?.headers).get('dbapi-min-lsn')), fetch(url, init)),
    });
    for (let i = 1; i <= 5; i++) {
      await client.rw.put({ key: 'client', value: i });
      expect((await client.rw.get({ key: 'client' })).value).toBe(i);
    }
    expect(sent[0]).toBeNull();
    expect(sent.slice(1).every((lsn) => lsn && LSN.test(lsn))).toBe(true);
  } finally {
    await applyDelay(0);
  }
});

test('a replica lagging more than DB_REPLICA_MAX_LAG_MS is skipped until it catches up', async () => {
  await applyDelay(5_000);
  try {
    await put('lag', 1);
    await replicaState('lagging');
    const r = await get('lag');
    expect([200, false, 1]).toEqual([r.status, r.body.standby, r.body.value]);
  } finally {
    await applyDelay(0);
  }
  await replicaState('up');
  expect((await get('lag')).body).toEqual({ standby: true, value: 1 });
});

test('the replica stopped and started under load: no call fails, and reads come back to it', async () => {
  let running = true;
  const statuses = new Map<number, number>();
  let standbyAfter = 0;
  let restarted = false;
  const load = Array.from({ length: 6 }, async (_, n) => {
    for (let i = 0; running; i++) {
      const res = i % 3 === 0 ? await put(`load${n}`, i) : await get(`load${n}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (restarted && res.body?.standby) standbyAfter++;
    }
  });
  await sleep(300);
  await pair.replica.stop();
  await replicaState('down');
  // A lost replica does not take the gateway out of rotation while the primary answers.
  expect((await app.call('/ready', undefined, { method: 'GET', token: null })).status).toBe(200);
  await sleep(300);
  await pair.replica.start();
  await replicaState('up');
  restarted = true;
  await sleep(500);
  running = false;
  await Promise.all(load);
  expect([...statuses.keys()]).toEqual([200]);
  expect(standbyAfter).toBeGreaterThan(0);
}, 30_000);

test('through PgBouncer to primary and replica: write-then-read sessions while replay is delayed and the replica stops and starts; every read sees its write, no call fails', async () => {
  const [toPrimary, toReplica] = [await startPgBouncer(pair.primary.url), await startPgBouncer(pair.replica.url)];
  const bounced = await startTestApp({
    moduleDirs: [join(ROOT, 'test', 'fixtures', 'replicas')],
    env: {
      DATABASE_URL: toPrimary.url(pair.primary.url), DATABASE_URL_REPLICAS: toReplica.url(pair.replica.url), DB_PREPARE: 'false',
      DB_REPLICA_CHECK_MS: '100', DB_REPLICA_MAX_LAG_MS: '2000', LOG_LEVEL: 'warn',
    },
  });
  try {
    await applyDelay(200);
    let running = true;
    const failures: CallResult[] = [];
    let stale = 0;
    const sessions = Array.from({ length: 6 }, async (_, n) => {
      for (let i = 1; running; i++) {
        const w = await bounced.call('/rw/put', { key: `b${n}`, value: i });
        if (w.status !== 200) failures.push(w);
        const r = await bounced.call('/rw/get', { key: `b${n}` }, { headers: { 'dbapi-min-lsn': w.headers.get('dbapi-lsn') ?? '0/0' } });
        if (r.status !== 200) failures.push(r);
        else if (r.body.value !== i) stale++;
      }
    });
    await sleep(300);
    await pair.replica.stop();
    await sleep(500);
    await pair.replica.start();
    await sleep(700);
    running = false;
    await Promise.all(sessions);
    expect([failures.map((f) => f.status), stale]).toEqual([[], 0]);
  } finally {
    await applyDelay(0).catch(() => {});
    await bounced.close();
    await toPrimary.close();
    await toReplica.close();
  }
}, 30_000);
