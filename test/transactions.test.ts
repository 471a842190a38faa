// Transactions: commit on return, rollback on throw, read-only enforcement, named databases, JSON encoding of types.
import { join } from 'node:path';
import { startTestApp, ROOT, FIXTURES, type TestApp } from './support/startTestApp';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ databases: ['other'], moduleDirs: [join(ROOT, 'modules'), FIXTURES, join(ROOT, 'test', 'fixtures', 'named')] });
});
afterAll(() => app.close());

const count = async (note: string) =>
  (await app.db.pool('default')`select count(*)::int as n from probe_rows where note = ${note}`)[0].n;

test('a handler that returns commits its writes', async () => {
  expect((await app.call('/probe/insert', { note: 'kept' })).status).toBe(200);
  expect(await count('kept')).toBe(1);
});

test('a handler that throws rolls back what it wrote', async () => {
  expect((await app.call('/probe/fail', { note: 'rolled-back' })).status).toBe(500);
  expect(await count('rolled-back')).toBe(0);
});

test('a statement timeout rolls back what was written before it', async () => {
  const short = await startTestApp({ env: { DB_STATEMENT_TIMEOUT_MS: '200' } });
  try {
    expect((await short.call('/probe/slow', { seconds: 1 })).status).toBe(504);
    expect((await short.db.pool('default')`select count(*)::int as n from probe_rows where note = 'slow'`)[0].n).toBe(0);
  } finally {
    await short.close();
  }
});

test('a transaction over DB_TRANSACTION_TIMEOUT_MS is answered 504 at once, and rolls back when its handler returns', async () => {
  const short = await startTestApp({ env: { DB_TRANSACTION_TIMEOUT_MS: '300', DB_STATEMENT_TIMEOUT_MS: '10000' } });
  try {
    const started = Date.now();
    const res = await short.call('/probe/slow', { seconds: 1.5 });
    expect([res.status, res.body.error.code]).toEqual([504, 'timeout']);
    expect(Date.now() - started).toBeLessThan(1_200);
    await new Promise((r) => setTimeout(r, 2_000)); // the handler's sleep ends; it must not commit now
    expect((await short.db.pool('default')`select count(*)::int as n from probe_rows where note = 'slow'`)[0].n).toBe(0);
  } finally {
    await short.close();
  }
});

describe('a handler that returns its last statement\'s query unawaited: COMMIT sent in the same write', () => {
  test('it commits, and its statement\'s rows are the answer', async () => {
    const res = await app.call('/probe/insert_last', { note: 'last-kept' });
    expect([res.status, res.body]).toEqual([200, [{ id: expect.any(Number) }]]);
    expect(await count('last-kept')).toBe(1);
  });

  test('a failing statement: its error is the answer, and the COMMIT behind it rolled back', async () => {
    expect((await app.call('/probe/unique_last', { id: 7001 })).status).toBe(200);
    const again = await app.call('/probe/unique_last', { id: 7001 });
    expect([again.status, again.body.error.code]).toEqual([409, 'conflict']);
    // The pool's connections are usable after it: no transaction left open, nothing half done.
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => app.call('/probe/insert_last', { note: `after-conflict-${i % 2}` })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect([await count('after-conflict-0'), await count('after-conflict-1')]).toEqual([10, 10]);
  });

  test('a dry run still rolls back (its COMMIT is never sent early)', async () => {
    const res = await app.call('/probe/insert_last', { note: 'last-dry' }, { headers: { prefer: 'tx=rollback' } });
    expect([res.status, res.headers.get('preference-applied')]).toEqual([200, 'tx=rollback']);
    expect(await count('last-dry')).toBe(0);
  });

  test('a caller\'s Request-Timeout still answers 504 and rolls back (its COMMIT is never sent early)', async () => {
    const res = await app.call('/probe/sleep_last', { note: 'last-deadline', seconds: 1 }, { headers: { 'request-timeout': '300' } });
    expect([res.status, res.body.error.code]).toEqual([504, 'timeout']);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await count('last-deadline')).toBe(0);
  });

  test('over DB_TRANSACTION_TIMEOUT_MS once the COMMIT is sent: 503, the outcome is the commit\'s (retry with the same Idempotency-Key)', async () => {
    const short = await startTestApp({ env: { DB_TRANSACTION_TIMEOUT_MS: '300', DB_STATEMENT_TIMEOUT_MS: '10000' } });
    try {
      const res = await short.call('/probe/sleep_last', { note: 'last-slow', seconds: 1 });
      expect([res.status, res.body.error.code, res.headers.get('retry-after')]).toEqual([503, 'unavailable', '1']);
      expect(res.body.error.message).toMatch(/Idempotency-Key/);
      await new Promise((r) => setTimeout(r, 1_500)); // the statement ends, and the COMMIT behind it commits
      expect((await short.db.pool('default')`select count(*)::int as n from probe_rows where note = 'last-slow'`)[0].n).toBe(1);
    } finally {
      await short.close();
    }
  });

  test('the connection lost once the COMMIT is sent: 503 saying the outcome is unknown (retry with the same Idempotency-Key)', async () => {
    const call = app.call('/probe/sleep_last', { note: 'last-killed', seconds: 5 });
    const pool = app.db.pool('default');
    for (const until = Date.now() + 5_000; ; await new Promise((r) => setTimeout(r, 20))) {
      const killed = await pool`select pg_terminate_backend(pid) from pg_stat_activity
        where query like '%pg_sleep%' and query like '%probe_rows%' and pid <> pg_backend_pid()`;
      if (killed.length > 0) break;
      if (Date.now() > until) throw new Error('the statement never started');
    }
    const res = await call;
    expect([res.status, res.body.error.code, res.headers.get('retry-after')]).toEqual([503, 'unavailable', '1']);
    expect(res.body.error.message).toMatch(/did not confirm the commit.*Idempotency-Key/);
    expect(await count('last-killed')).toBe(0); // here it was cut off mid-statement, so nothing was committed
  });

  test('a statement chained on the returned query is refused: it never runs after the COMMIT, outside the transaction', async () => {
    expect((await app.call('/probe/late', { note: 'chained' })).status).toBe(200); // the answer is the returned query's
    await new Promise((r) => setTimeout(r, 200));
    expect([await count('chained-first'), await count('chained-late')]).toEqual([1, 0]);
  });

  test('a statement that cannot be sent fails the call, and nothing the work sent before it is kept', async () => {
    for (const after of [false, true]) {
      const res = await app.call('/probe/unsent_last', { note: `unsent-${after}`, after });
      expect([after, res.status, res.body.error.code]).toEqual([after, 500, 'internal']);
      expect(await count(`unsent-${after}`)).toBe(0);
    }
    // The connections it used go on serving (the failed statement was never left waiting for an answer).
    const results = await Promise.all(Array.from({ length: 20 }, () => app.call('/probe/insert_last', { note: 'after-unsent' })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
  });

  test('a statement that cannot be sent, started after the returned one: the call fails and nothing is kept', async () => {
    const res = await app.call('/probe/unsent_after', { note: 'unsent-after' });
    expect([res.status, res.body.error.code]).toEqual([500, 'internal']);
    expect(await count('unsent-after')).toBe(0);
  });

  test('an unawaited savepoint before the returned statement still runs inside the transaction', async () => {
    expect((await app.call('/probe/savepoint_before', { note: 'sp-before' })).status).toBe(200);
    expect([await count('sp-before'), await count('sp-before-sp')]).toEqual([1, 1]);
  });

  test('a row callback that throws fails the call, and its statement is rolled back', async () => {
    const res = await app.call('/probe/callback_last', { note: 'callback' });
    expect([res.status, res.body.error.code]).toEqual([500, 'internal']);
    expect(await count('callback')).toBe(0);
  });

  test('a prepared statement whose result changed shape (ALTER TABLE) is never run again after the COMMIT: each answer tells what was kept', async () => {
    const pool = app.db.pool('default');
    const kept = async (note: string) => (await pool`select count(*)::int as n from probe_reshaped where note = ${note}`)[0].n;
    // Warm the statement on every connection of the pool, then change the table's shape under it.
    await Promise.all(Array.from({ length: 20 }, (_, i) => app.call('/probe/reshaped_last', { note: `warm-${i}` })));
    await pool`alter table probe_reshaped add column extra int`;
    let failed = 0;
    for (let i = 0; i < 30; i++) {
      const res = await app.call('/probe/reshaped_last', { note: `reshaped-${i}` });
      expect([i, res.status === 200 ? 1 : 0]).toEqual([i, await kept(`reshaped-${i}`)]);
      if (res.status !== 200) failed++;
    }
    // At most once per pooled connection (its stale statement is then forgotten), and never a row kept behind a 500.
    expect(failed).toBeLessThanOrEqual(10);
  });
});

test('a statement made after the transaction ended is refused: it never runs on the connection the pool gave back', async () => {
  expect((await app.call('/probe/late_after_end', { note: 'after-end' })).status).toBe(200);
  await new Promise((r) => setTimeout(r, 300));
  expect([await count('after-end-first'), await count('after-end-late')]).toEqual([1, 0]);
});

test('read-only actions run in read-only transactions: a write fails and leaves nothing', async () => {
  const res = await app.call('/probe/write_readonly', { note: 'ro' });
  expect([res.status, res.body.error.code]).toEqual([500, 'internal']);
  expect(await count('ro')).toBe(0);
  expect((await app.call('/probe/count', { note: 'kept' })).body).toBe(1);
});

test('an action on a named database runs there, with that database\'s migrations', async () => {
  const res = await app.call('/elsewhere/put', { key: 'k1' });
  expect(res.status).toBe(200);
  const [{ db }] = await app.db.pool('other')`select current_database() as db`;
  expect(res.body).toEqual({ db, n: 1 });
  expect(db).not.toBe((await app.db.pool('default')`select current_database() as db`)[0].db);
  const inDefault = await app.db.pool('default')`select to_regclass('other_rows') as t`;
  expect(inDefault[0].t).toBeNull();
});

test('results are JSON: int8/numeric as strings, dates ISO 8601 UTC, bytea base64', async () => {
  const { status, body } = await app.call('/probe/types');
  expect(status).toBe(200);
  expect(body).toEqual({
    big: '9007199254740993',
    num: '12345678901234567890.123',
    int: 42,
    float: 1.5,
    bool: true,
    nothing: null,
    day: '2024-02-29',
    at: '2024-02-29T10:34:56.789Z',
    local_at: '2024-02-29T12:34:56.789Z',
    bytes: Buffer.from([0x00, 0xff, 0x10]).toString('base64'),
    doc: { a: [1, 2] },
    list: [1, 2, 3],
  });
});

describe('transaction-local settings, sent with the first statement', () => {
  const settingsNow = (tx: import('#dbapi').Tx) =>
    tx`select current_setting('dbapi.caller', true) as caller, current_setting('statement_timeout') as timeout`.then((r) => r[0]);

  test('are seen by the work and gone after commit', async () => {
    const inside = await app.db.transaction('default', { readOnly: true, statementTimeoutMs: 1234, settings: { 'dbapi.caller': 'alice' } }, settingsNow);
    expect(inside).toEqual({ caller: 'alice', timeout: '1234ms' });
    const after = await app.db.transaction('default', { readOnly: true }, settingsNow);
    expect(after.caller ?? '').toBe('');
    expect(after.timeout).not.toBe('1234ms');
  });

  test('values with quotes, backslashes and any text arrive exactly as given', async () => {
    const claims = JSON.stringify({ sub: "O'Brien", path: 'C:\\x\\y', q: '\'; drop table probe_rows; --', u: 'ü \u2603 \u0000' });
    const inside = await app.db.transaction('default', { readOnly: true, settings: { 'dbapi.claims': claims } },
      (tx) => tx`select current_setting('dbapi.claims', true) as claims`.then((r) => r[0].claims));
    expect(inside).toBe(claims);
    expect(JSON.parse(inside).sub).toBe("O'Brien");
  });

  test.each(['dbapi.tenant$id', 'dbapi.user', `dbapi.${'x'.repeat(70)}`])('the name %s (a $, a reserved word, over 63 bytes) is set exactly, and vanishes at commit', async (name) => {
    const read = (tx: import('#dbapi').Tx) => tx`select current_setting(${name}, true) as v`.then((r) => r[0].v);
    expect(await app.db.transaction('default', { readOnly: true, settings: { [name]: "t'1" } }, read)).toBe("t'1");
    expect((await app.db.transaction('default', { readOnly: true }, read)) ?? '').toBe('');
  });

  test('a failing setting fails the call with its own error and commits nothing, with or without statements', async () => {
    const bad = { readOnly: false, settings: { role: 'dbapi_no_such_role' } };
    await expect(app.db.transaction('default', bad, () => 'no statement')).rejects.toMatchObject({ code: '22023' });
    await expect(app.db.transaction('default', bad, (tx) => tx`insert into probe_rows (note) values ('bad-prelude')`)).rejects.toMatchObject({ code: '22023' });
    expect(await count('bad-prelude')).toBe(0);
  });

  test('BEGIN\'s own settings failing fail the call with BEGIN\'s error: the work sent behind it never runs outside a transaction', async () => {
    // The work starts once BEGIN is written, not answered (its first statement leaves in the same socket write).
    const bad = { readOnly: false, statementTimeoutMs: -5 }; // set local statement_timeout = '-5': out of range
    await expect(app.db.transaction('default', bad, () => 'no statement')).rejects.toMatchObject({ code: '22023' });
    await expect(app.db.transaction('default', bad, (tx) => tx`insert into probe_rows (note) values ('bad-begin')`)).rejects.toMatchObject({ code: '22023' });
    await expect(app.db.transaction('default', bad, async (tx) => {
      await tx`insert into probe_rows (note) values ('bad-begin')`.catch(() => undefined); // swallowed by the work
      await tx`insert into probe_rows (note) values ('bad-begin')`.catch(() => undefined);
      return 'swallowed';
    })).rejects.toMatchObject({ code: '22023' });
    expect(await count('bad-begin')).toBe(0);
    // and the pool's connections are fine afterwards
    expect((await app.call('/probe/insert', { note: 'after-bad-begin' })).status).toBe(200);
    expect(await count('after-bad-begin')).toBe(1);
  });
});
