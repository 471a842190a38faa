// Actions returning async iterables stream as NDJSON or a JSON array, inside their transaction.
import { request } from 'node:http';
import { startTestApp, TOKEN, type TestApp } from './support/startTestApp';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

test('NDJSON by default: one JSON value per line, in order', async () => {
  const res = await app.call('/rows/series', { n: 2500 });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
  expect(res.headers.get('x-request-id')).toBeTruthy();
  const lines = res.text.trimEnd().split('\n').map((l) => JSON.parse(l));
  expect(lines.length).toBe(2500);
  expect([lines[0], lines[2499]]).toEqual([{ i: 1, label: 'row 1' }, { i: 2500, label: 'row 2500' }]);
});

test('a JSON array when Accept asks for application/json', async () => {
  const res = await app.call('/rows/series', { n: 3 }, { headers: { accept: 'application/json' } });
  expect([res.status, res.headers.get('content-type')]).toEqual([200, 'application/json; charset=utf-8']);
  expect(res.body).toEqual([{ i: 1, label: 'row 1' }, { i: 2, label: 'row 2' }, { i: 3, label: 'row 3' }]);
});

test('an empty stream is an empty array or an empty body', async () => {
  expect((await app.call('/rows/series', { n: 0 }, { headers: { accept: 'application/json' } })).body).toEqual([]);
  expect((await app.call('/rows/series', { n: 0 })).text).toBe('');
});

test('an error before the first item is an ordinary JSON error', async () => {
  const res = await app.call('/rows/series_fail', { n: 5, failAt: 1 });
  expect([res.status, res.body.error.code]).toEqual([500, 'internal']);
});

test('an error part-way cuts the response off, so the client sees a failure, not a short answer', async () => {
  await expect(app.call('/rows/series_fail', { n: 100_000, failAt: 90_000 })).rejects.toThrow();
  await waitFor(() => app.logs.some((l) => l.dbapi?.action === 'rows/series_fail' && l['log.level'] === 'error' && /failed while streaming/.test(l.error?.message)));
  // The access line and the metrics tell the same status: the error that cut the stream off, not the 200 its headers said.
  const line = app.logs.find((l) => l.dbapi?.action === 'rows/series_fail' && l['log.level'] === 'error')!;
  expect(line.http.response.status_code).toBe(500);
  const metrics = await (await fetch(`${app.url}/metrics`)).text();
  expect(metrics).toMatch(/dbapi_requests_total\{action="rows\/series_fail",caller="default",status="500"\} 2/); // with the test above
  expect(metrics).not.toMatch(/dbapi_requests_total\{action="rows\/series_fail",caller="default",status="200"\}/);
});

test('a client that stops reading holds the stream (backpressure), and leaving rolls it back', async () => {
  const body = JSON.stringify({ n: 5_000_000 });
  const received = await new Promise<number>((resolve, reject) => {
    const req = request(`${app.url}/rows/series`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes > 64 * 1024) res.pause(); // stop reading after the first 64 KiB
      });
      setTimeout(() => {
        req.destroy();
        resolve(bytes);
      }, 1500);
    });
    req.on('error', () => {});
    req.end(body);
  });
  // The whole answer is ~100 MB; a paused reader got only what the socket buffers hold.
  expect(received).toBeLessThan(20 * 1024 * 1024);
  // Its access line says the client left (499), not the 200 its headers announced.
  await waitFor(() => app.logs.some((l) => l.dbapi?.action === 'rows/series' && l.http?.response?.status_code === 499));
  // The transaction ended with the stream: nothing in use any more, and one more rollback.
  await waitFor(async () => {
    const metrics = (await app.call('/metrics', undefined, { method: 'GET', token: null })).text;
    return /dbapi_db_pool_in_use\{database="default"\} 0/.test(metrics) && /dbapi_db_rollbacks_total\{database="default"\} [1-9]/.test(metrics);
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
