// Actions declared `database: false` take no pool connection and have no `tx`; the others still run in a transaction.
import { startTestApp, type TestApp } from '../../test/support/startTestApp';
import { noTransaction } from './noTransaction';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ env: { DB_POOL_MAX: '1' } });
});
afterAll(() => app.close());

test('foo (database: false) answers while the only pool connection is taken; bar waits for it', async () => {
  const reserved = await app.db.pool('default').reserve();
  try {
    const foo = await app.call('/example/foo', { name: 'ann' });
    expect([foo.status, foo.body.name]).toEqual([200, 'ann']);
    const batch = await app.call('/_batch', { calls: [{ action: 'example/foo', params: { name: 'b' } }, { action: 'example' }] });
    expect([batch.status, batch.body.results[1]]).toEqual([200, true]); // a batch of database: false calls takes no connection
    let barDone = false;
    const bar = app.call('/example/bar', { name: 'ann' }).then((r) => ((barDone = true), r));
    await new Promise((r) => setTimeout(r, 200));
    expect(barDone).toBe(false);
    reserved.release();
    expect((await bar).status).toBe(200);
  } finally {
    reserved.release();
  }
});

test('the tx of a `database: false` action refuses to run', () => {
  expect(() => noTransaction`select 1`).toThrow(expect.objectContaining({ code: 'internal' }));
});

test('paths match exactly: names are lower case, no trailing slash; other methods are 405', async () => {
  const statuses = [
    (await app.call('/example/foo', { name: 'ann' })).status,
    (await app.call('/example/foo/', { name: 'ann' })).status,
    (await app.call('/Example/FOO', { name: 'ann' })).status,
    (await app.call('/example/', undefined, { raw: '' })).status,
    (await app.call('/example//foo', { name: 'ann' })).status,
    (await app.call('/example/nope', { name: 'ann' })).status,
  ];
  expect(statuses).toEqual([200, 404, 404, 404, 404, 404]);
  const get = await app.call('/example/foo', undefined, { method: 'GET' });
  expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
});
