// The example module over HTTP: the original skeleton's actions, and bar under 200 concurrent first calls.
import { startTestApp, type TestApp } from '#dbapi/testing';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ env: { DB_POOL_MAX: '10' } });
});
afterAll(() => app.close());

test('POST /example answers true', async () => {
  expect(await app.call('/example')).toMatchObject({ status: 200, body: true });
});

test('foo echoes name and email with the time in ISO 8601 UTC', async () => {
  const before = Date.now();
  const { status, body } = await app.call('/example/foo', { name: 'ann', email: 'ann@example.com' });
  expect(status).toBe(200);
  expect(body).toEqual({ name: 'ann', email: 'ann@example.com', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
  expect(Date.parse(body.time)).toBeGreaterThanOrEqual(before - 1000);
});

test('foo answers email null when absent', async () => {
  expect((await app.call('/example/foo', { name: 'bob' })).body.email).toBeNull();
});

test('bar inserts, then updates the email, and answers the rows for that name', async () => {
  expect((await app.call('/example/bar', { name: 'carol', email: 'c@example.com' })).body).toEqual([{ name: 'carol', email: 'c@example.com' }]);
  expect((await app.call('/example/bar', { name: 'carol', email: 'c2@example.com' })).body).toEqual([{ name: 'carol', email: 'c2@example.com' }]);
  expect((await app.call('/example/bar', { name: 'carol' })).body).toEqual([{ name: 'carol', email: null }]);
  const rows = await app.db.pool('default')`select name, email from users where name = 'carol'`;
  expect(rows.length).toBe(1);
});

test('bar: 200 first-time calls for one name at once all answer 200, and one row results', async () => {
  const calls = Array.from({ length: 200 }, (_, i) => app.call('/example/bar', { name: 'dave', email: `d${i}@example.com` }));
  const results = await Promise.all(calls);
  expect(results.map((r) => r.status)).toEqual(Array(200).fill(200));
  for (const r of results) expect(r.body).toEqual([{ name: 'dave', email: expect.stringMatching(/^d\d+@example\.com$/) }]);
  const [{ n }] = await app.db.pool('default')`select count(*)::int as n from users where name = 'dave'`;
  expect(n).toBe(1);
});

test('bar rejects an invalid email and a missing name', async () => {
  expect((await app.call('/example/bar', { name: 'erin', email: 'nope' })).status).toBe(400);
  expect((await app.call('/example/bar', { email: 'e@example.com' })).status).toBe(400);
});
