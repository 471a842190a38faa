// /metrics protected: METRICS_TOKEN asks scrapers for a bearer token; METRICS_PORT serves it on a management port of
// its own only, beside /health and /ready.
import { startTestApp, TOKEN, type TestApp } from './support/startTestApp';
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

describe('METRICS_PORT, the management port', () => {
  let app: TestApp;
  let management: string;
  beforeAll(async () => {
    const port = await freePort();
    app = await startTestApp({ env: { METRICS_PORT: String(port), HOST: '127.0.0.1' } });
    management = `http://127.0.0.1:${port}`;
  });
  afterAll(() => app.close());

  test('/metrics is served there and not on the gateway\'s port; /health and /ready on both', async () => {
    expect((await app.call('/metrics', undefined, { method: 'GET', token: null })).status).toBe(401); // an unknown path to strangers
    expect((await app.call('/metrics', undefined, { method: 'GET' })).status).toBe(404);
    const res = await fetch(`${management}/metrics`);
    expect([res.status, await res.text()]).toEqual([200, expect.stringMatching(/dbapi_db_pool_size/)]);
    const other = await fetch(`${management}/example/foo`, { method: 'POST' });
    expect([other.status, ((await other.json()) as { error: { code: string } }).error.code]).toEqual([404, 'not_found']);
    for (const path of ['/health', '/ready']) {
      const probe = await fetch(`${management}${path}`);
      expect([path, probe.status]).toEqual([path, 200]);
      expect((await app.call(path, undefined, { method: 'GET', token: null })).status).toBe(200);
    }
  });

  test('while the gateway drains, /ready there answers 503 with Retry-After', async () => {
    app.lifecycle.draining = true;
    try {
      const ready = await fetch(`${management}/ready`);
      expect([ready.status, ready.headers.get('retry-after'), ((await ready.json()) as { error: { code: string } }).error.code]).toEqual([503, '1', 'unavailable']);
      expect((await fetch(`${management}/health`)).status).toBe(200);
    } finally {
      app.lifecycle.draining = false;
    }
  });
});
