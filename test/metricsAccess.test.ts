// /metrics protected: METRICS_TOKEN asks scrapers for a bearer token; METRICS_PORT serves it on a port of its own only.
import { startTestApp, TOKEN } from './support/startTestApp';
import { freePort } from '../lib/http/freePort';

const SCRAPE = 'scrape-token-0123456789abcdef';

test('METRICS_TOKEN: /metrics needs it (401 without, or with a caller\'s token); the caller names stay hidden', async () => {
  const app = await startTestApp({ env: { METRICS_TOKEN: SCRAPE } });
  try {
    await app.call('/example/foo', { name: 'a' });
    const none = await app.call('/metrics', undefined, { method: 'GET', token: null });
    const caller = await app.call('/metrics', undefined, { method: 'GET', token: TOKEN });
    expect([none.status, caller.status, none.body.error.code]).toEqual([401, 401, 'unauthorized']);
    expect(none.text).not.toMatch(/default/);
    const ok = await app.call('/metrics', undefined, { method: 'GET', token: SCRAPE });
    expect([ok.status, ok.text]).toEqual([200, expect.stringMatching(/dbapi_requests_total\{action="example\/foo",caller="default",status="200"\} 1/)]);
  } finally {
    await app.close();
  }
});

test('METRICS_PORT: /metrics is served there and not on the gateway\'s port', async () => {
  const port = await freePort();
  const app = await startTestApp({ env: { METRICS_PORT: String(port), HOST: '127.0.0.1' } });
  try {
    expect((await app.call('/metrics', undefined, { method: 'GET', token: null })).status).toBe(401); // an unknown path to strangers
    expect((await app.call('/metrics', undefined, { method: 'GET' })).status).toBe(404);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect([res.status, await res.text()]).toEqual([200, expect.stringMatching(/dbapi_db_pool_size/)]);
    expect((await fetch(`http://127.0.0.1:${port}/example/foo`, { method: 'POST' })).status).toBe(404);
  } finally {
    await app.close();
  }
});
