// Idempotency-Key: stored with the call's writes, replayed without running the handler, scoped by caller.
import { join } from 'node:path';
import { startTestApp, ROOT, type TestApp } from './support/startTestApp';

const MODULES = [join(ROOT, 'modules'), join(ROOT, 'test', 'fixtures', 'reliability')];
const CALLERS = JSON.stringify([
  { name: 'billing', tokens: ['billing-token-0123456789', 'billing-token-rotated-0123'], allow: ['faulty/*'] },
  { name: 'reports', tokens: ['reports-token-0123456789'], allow: ['faulty/count', 'faulty/write'] },
]);

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ moduleDirs: MODULES, env: { CALLERS } });
});
afterAll(() => app.close());

const count = async (note: string) => (await app.call('/faulty/count', { note })).body;
const key = (k: string) => ({ headers: { 'idempotency-key': k } });

test('a repeat replays the stored answer without running the handler', async () => {
  const first = await app.call('/faulty/write', { note: 'once' }, key('k-once'));
  const again = await app.call('/faulty/write', { note: 'once' }, key('k-once'));
  expect([first.status, first.headers.get('idempotency-replayed')]).toEqual([200, null]);
  expect([again.status, again.text, again.headers.get('idempotency-replayed')]).toEqual([200, first.text, 'true']);
  expect(await count('once')).toBe(1);
});

test('params compare by value, not by key order', async () => {
  await app.call('/faulty/write', undefined, { ...key('k-order'), raw: '{"note":"order","seconds":0}' });
  const res = await app.call('/faulty/write', undefined, { ...key('k-order'), raw: '{"seconds":0,"note":"order"}' });
  expect(res.headers.get('idempotency-replayed')).toBe('true');
});

test('the same key with other params or another action is 422', async () => {
  await app.call('/faulty/write', { note: 'a' }, key('k-mismatch'));
  const other = await app.call('/faulty/write', { note: 'b' }, key('k-mismatch'));
  expect([other.status, other.body.error.code]).toEqual([422, 'idempotency_mismatch']);
  const action = await app.call('/faulty/stubborn', { note: 'a' }, key('k-mismatch'));
  expect(action.status).toBe(422);
  expect(await count('b')).toBe(0);
});

test('concurrent duplicates run once; the others wait and replay', async () => {
  const calls = await Promise.all(Array.from({ length: 6 }, () => app.call('/faulty/write', { note: 'dup', seconds: 0.3 }, key('k-dup'))));
  expect(calls.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
  expect(new Set(calls.map((r) => r.text)).size).toBe(1);
  expect(calls.filter((r) => r.headers.get('idempotency-replayed') === 'true')).toHaveLength(5);
  expect(await count('dup')).toBe(1);
});

test('a failed call stores nothing: the retry runs again', async () => {
  expect((await app.call('/faulty/fail', { note: 'failed' }, key('k-fail'))).status).toBe(500);
  const retry = await app.call('/faulty/fail', { note: 'failed' }, key('k-fail'));
  expect([retry.status, retry.headers.get('idempotency-replayed')]).toEqual([500, null]);
  const invalid = await app.call('/faulty/write', { note: 5 }, key('k-invalid'));
  expect(invalid.status).toBe(400);
  expect((await app.call('/faulty/write', { note: 'valid' }, key('k-invalid'))).headers.get('idempotency-replayed')).toBe(null);
});

test('keys are scoped by caller', async () => {
  await app.call('/faulty/write', { note: 'scoped' }, { ...key('k-shared'), token: 'billing-token-0123456789' });
  const other = await app.call('/faulty/write', { note: 'scoped' }, { ...key('k-shared'), token: 'reports-token-0123456789' });
  expect([other.status, other.headers.get('idempotency-replayed')]).toEqual([200, null]);
  expect(await count('scoped')).toBe(2);
});

test('a malformed key is 400', async () => {
  const res = await app.call('/faulty/write', { note: 'x' }, key('x'.repeat(300)));
  expect([res.status, res.body.error.code]).toEqual([400, 'invalid_params']);
});

test('expired answers are taken over', async () => {
  await app.call('/faulty/write', { note: 'expired' }, key('k-exp'));
  await app.db.pool('default')`update dbapi_idempotency set expires_at = now() - interval '1 second' where key = 'k-exp'`;
  const res = await app.call('/faulty/write', { note: 'expired' }, key('k-exp'));
  expect(res.headers.get('idempotency-replayed')).toBe(null);
  expect(await count('expired')).toBe(2);
});

describe('callers and scopes', () => {
  test('two tokens of one caller are valid at once (rotation); the name reaches handlers and logs', async () => {
    for (const token of ['billing-token-0123456789', 'billing-token-rotated-0123']) {
      const res = await app.call('/faulty/whoami', {}, { token, headers: { 'x-request-id': `rot-${token.length}` } });
      expect([res.status, res.body]).toEqual([200, 'billing']);
    }
    const lines = app.logs.filter((l) => l.http?.request?.id === 'rot-24');
    expect(lines.length).toBeGreaterThanOrEqual(2); // the handler's line and the access line
    for (const l of lines) expect(l.user?.name).toBe('billing');
    const text = JSON.stringify(app.logs);
    expect(text).not.toContain('billing-token');
    expect(lines.find((l) => l.note)?.note).toBe('line one\nline two\u0000\u001b[31m');
  });
  test('wrong token 401, right token outside its scope 403', async () => {
    expect((await app.call('/faulty/whoami', {}, { token: 'nobody-token-0123456789' })).status).toBe(401);
    expect((await app.call('/faulty/whoami', {}, { token: 'reports-token-0123456789' })).status).toBe(403);
  });
});
