// POST /_batch: one transaction on one database; all calls commit or none, and a failure names its call.
import { join } from 'node:path';
import { startTestApp, ROOT, FIXTURES, TOKEN, type TestApp } from './support/startTestApp';

const SCOPED = 'scoped-token-0123456789abcdef';
let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({
    databases: ['other'],
    moduleDirs: [join(ROOT, 'modules'), FIXTURES, join(ROOT, 'test', 'fixtures', 'named')],
    env: {
      BATCH_MAX_CALLS: '5',
      CALLERS: JSON.stringify([{ name: 'scoped', tokens: [SCOPED], allow: ['probe/insert', 'probe/count'] }]),
    },
  });
});
afterAll(() => app.close());

const count = async (note: string) => (await app.db.pool('default')`select count(*)::int as n from probe_rows where note = ${note}`)[0].n;

test('every call runs in order in one transaction and the results come back in order', async () => {
  const res = await app.call('/_batch', { calls: [
    { action: 'probe/insert', params: { note: 'b1' } },
    { action: 'probe/count', params: { note: 'b1' } }, // sees the row written by the call before it
    { action: 'example/foo', params: { name: 'ann' } },
    { action: 'example' },
  ] });
  expect(res.status).toBe(200);
  expect(res.body.results).toEqual([{ id: expect.any(Number) }, 1, { name: 'ann', email: null, time: expect.any(String) }, true]);
  expect(await count('b1')).toBe(1);
});

test('a handler failing in the third call commits nothing and names the call', async () => {
  const res = await app.call('/_batch', { calls: [
    { action: 'probe/insert', params: { note: 'b2' } },
    { action: 'probe/insert', params: { note: 'b2' } },
    { action: 'probe/fail', params: { note: 'b2' } },
  ] });
  expect([res.status, res.body.error.code, res.body.error.details.index, res.body.error.details.action]).toEqual([500, 'internal', 2, 'probe/fail']);
  expect(res.text).not.toMatch(/secret_table/);
  expect(await count('b2')).toBe(0);
});

test('a conflict in a later call rolls back the earlier ones (409)', async () => {
  const res = await app.call('/_batch', { calls: [
    { action: 'probe/insert', params: { note: 'b3' } },
    { action: 'probe/unique', params: { id: 7 } },
    { action: 'probe/unique', params: { id: 7 } },
  ] });
  expect([res.status, res.body.error.code, res.body.error.details.index]).toEqual([409, 'conflict', 2]);
  expect(await count('b3')).toBe(0);
  expect((await app.db.pool('default')`select count(*)::int as n from probe_unique`)[0].n).toBe(0);
});

test('invalid params in any call: 400 naming it, before anything runs', async () => {
  const res = await app.call('/_batch', { calls: [
    { action: 'probe/insert', params: { note: 'b4' } },
    { action: 'example/bar', params: { name: 'x', email: 'not-an-email' } },
  ] });
  expect([res.status, res.body.error.code, res.body.error.details.index]).toEqual([400, 'invalid_params', 1]);
  expect(res.body.error.details.details).toEqual([{ path: 'email', message: expect.any(String) }]);
  expect(await count('b4')).toBe(0);
});

test('an unknown action: 404 naming the call', async () => {
  const res = await app.call('/_batch', { calls: [{ action: 'probe/insert', params: { note: 'b5' } }, { action: 'nope/nothing' }] });
  expect([res.status, res.body.error.code, res.body.error.details.index]).toEqual([404, 'not_found', 1]);
  expect(await count('b5')).toBe(0);
});

test('each call obeys the caller scope: 403 naming the call, nothing committed', async () => {
  const ok = await app.call('/_batch', { calls: [{ action: 'probe/insert', params: { note: 'b6' } }] }, { token: SCOPED });
  expect(ok.status).toBe(200);
  const res = await app.call('/_batch', { calls: [
    { action: 'probe/insert', params: { note: 'b7' } },
    { action: 'example/bar', params: { name: 'x' } },
  ] }, { token: SCOPED });
  expect([res.status, res.body.error.code, res.body.error.details.index]).toEqual([403, 'forbidden', 1]);
  expect(await count('b7')).toBe(0);
});

test('calls on different databases are refused with 400', async () => {
  const res = await app.call('/_batch', { calls: [
    { action: 'probe/insert', params: { note: 'b8' } },
    { action: 'elsewhere/put', params: { key: 'k' } },
  ] });
  expect([res.status, res.body.error.code]).toEqual([400, 'invalid_params']);
  expect(await count('b8')).toBe(0);
});

test('a batch wholly on a named database runs there', async () => {
  const res = await app.call('/_batch', { calls: [{ action: 'elsewhere/put', params: { key: 'a' } }, { action: 'elsewhere/put', params: { key: 'b' } }] });
  expect(res.status).toBe(200);
  expect(res.body.results.map((r: any) => r.n)).toEqual([1, 2]);
});

test.each([
  ['not an object', { calls: 'x' }],
  ['no calls', { calls: [] }],
  ['an unknown field', { calls: [{ action: 'example' }], extra: 1 }],
  ['more calls than BATCH_MAX_CALLS', { calls: Array.from({ length: 6 }, () => ({ action: 'example' })) }],
])('a malformed batch (%s) is 400 invalid_params', async (_name, body) => {
  const res = await app.call('/_batch', body);
  expect([res.status, res.body.error.code]).toEqual([400, 'invalid_params']);
});

test('a batch needs a token, and only POST', async () => {
  expect((await app.call('/_batch', { calls: [{ action: 'example' }] }, { token: null })).status).toBe(401);
  const res = await app.call('/_batch', undefined, { method: 'GET', token: TOKEN });
  expect([res.status, res.headers.get('allow')]).toEqual([405, 'POST']);
});

test('Prefer: tx=rollback runs the whole batch and commits none of it', async () => {
  const res = await app.call('/_batch', { calls: [
    { action: 'probe/insert', params: { note: 'b9' } },
    { action: 'probe/count', params: { note: 'b9' } },
  ] }, { headers: { prefer: 'tx=rollback' } });
  expect([res.status, res.body.results[1], res.headers.get('preference-applied')]).toEqual([200, 1, 'tx=rollback']);
  expect(await count('b9')).toBe(0);
});
