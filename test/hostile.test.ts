// Hostile input: each is a JSON 4xx, never a 5xx or a crash; slow clients are cut off; logs stay one JSON per line.
import { connect } from 'node:net';
import { join } from 'node:path';
import { startTestApp, ROOT, TOKEN, type TestApp } from './support/startTestApp';

const MODULES = [join(ROOT, 'modules'), join(ROOT, 'test', 'fixtures', 'reliability')];
let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ moduleDirs: MODULES, env: { HEADERS_TIMEOUT_MS: '1000', REQUEST_TIMEOUT_MS: '1500', BODY_LIMIT_BYTES: '65536' } });
});
afterAll(() => app.close());

/** Writes `chunks` to a raw socket with pauses, and returns everything the server sent back before closing. */
function rawExchange(chunks: string[], pauseMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(app.port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => (got += d)).on('close', () => resolve(got)).on('error', reject);
    let i = 0;
    const next = () => {
      if (i < chunks.length && !socket.destroyed) socket.write(chunks[i++]);
      if (i < chunks.length) setTimeout(next, pauseMs);
    };
    next();
  });
}

function statusAndBody(raw: string): [number, any] {
  const [head, body] = raw.split('\r\n\r\n');
  return [Number(head.split(' ')[1]), JSON.parse(body)];
}

test('a client that never finishes its headers gets a JSON 408 and is cut off', async () => {
  const raw = await rawExchange(['POST /example/foo HTTP/1.1\r\n', 'Host: x\r\n'], 100);
  const [status, body] = statusAndBody(raw);
  expect([status, body.error.code]).toEqual([408, 'request_timeout']);
});

test('a client that never finishes its body gets a JSON 4xx and is cut off', async () => {
  const head = `POST /example/foo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nX-Request-Id: slow-body-1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
  const raw = await rawExchange([head, '{"name":'], 100);
  const [status, body] = statusAndBody(raw);
  expect([status, body.error.code, body.error.requestId]).toEqual([408, 'request_timeout', 'slow-body-1']);
  // Its one access line carries the caller's id and the status the caller got.
  await new Promise((r) => setTimeout(r, 50));
  const lines = app.logs.filter((l) => l.http?.request?.id === 'slow-body-1');
  expect(lines.map((l) => [l.http.response.status_code, l.error?.code])).toEqual([[408, 'request_timeout']]);
});

test('a NUL character or a value the database cannot take is a 400, not a 500', async () => {
  const res = await app.call('/example/bar', { name: 'a\u0000b' });
  expect([res.status, res.body.error.code]).toEqual([400, 'invalid_params']);
  expect(res.text).not.toMatch(/0x00|UTF8|byte sequence/);
});

test('a body declared in another charset than UTF-8 is 415', async () => {
  const res = await app.call('/example/foo', { name: 'x' }, { headers: { 'content-type': 'application/json; charset=latin1' } });
  expect([res.status, res.body.error.code]).toEqual([415, 'unsupported_media_type']);
  expect((await app.call('/example/foo', { name: 'x' }, { headers: { 'content-type': 'application/json; charset="UTF-8"' } })).status).toBe(200);
});

test('a kept-alive connection idle longer than the header timeout still serves its next request', async () => {
  const head = `POST /example HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 0\r\n\r\n`;
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(app.port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => (got += d)).on('error', reject);
    socket.write(head);
    setTimeout(() => socket.write(head), 1_800);
    setTimeout(() => (socket.destroy(), resolve(got)), 2_600);
  });
  expect(raw.match(/HTTP\/1.1 200/g)).toHaveLength(2);
});

test('malformed HTTP gets a JSON 400', async () => {
  const [status, body] = statusAndBody(await rawExchange(['GARBAGE\r\n\r\n'], 10));
  expect([status, body.error.code]).toEqual([400, 'bad_request']);
  // It has its access line too, with the request id the caller was given.
  await new Promise((r) => setTimeout(r, 50));
  expect(app.logs.filter((l) => l.http?.request?.id === body.error.requestId && l.http?.response?.status_code === 400 && l.error?.code === 'bad_request')).toHaveLength(1);
  // ... and is counted in the metrics from the same status.
  const metrics = await (await fetch(`${app.url}/metrics`)).text();
  expect(metrics).toMatch(/dbapi_requests_total\{action="none",caller="anonymous",status="400"\} [1-9]/);
});

test.each([
  ['__proto__', '{"name":"ann","__proto__":{"admin":true}}'],
  ['constructor', '{"name":"ann","constructor":{"prototype":{"admin":true}}}'],
])('a %s key is an unknown field, and pollutes nothing', async (_k, raw) => {
  const res = await app.call('/example/foo', undefined, { raw });
  expect(res.status).toBe(400);
  expect(({} as any).admin).toBeUndefined();
});

test('huge strings: over the body limit 413, under it a schema error, never a 5xx', async () => {
  expect((await app.call('/example/foo', { name: 'x'.repeat(100_000) })).status).toBe(413);
  expect((await app.call('/example/foo', { name: 'x'.repeat(60_000) })).status).toBe(400);
});

test.each([['text/plain'], ['application/x-www-form-urlencoded'], ['']])('content type %j with a body: 415', async (type) => {
  const res = await app.call('/example/foo', undefined, { raw: '{"name":"ann"}', headers: { 'content-type': type } });
  expect([res.status, res.body.error.code]).toEqual([415, 'unsupported_media_type']);
});

test('inputs with newlines and control characters keep every log line one JSON object; SQL stays out of bodies', async () => {
  const lines: string[] = [];
  const { createLogger } = await import('../lib/log/createLogger');
  const log = createLogger({ level: 'debug', stdout: false, streams: [{ write: (l: string) => void lines.push(l) }] });
  log.info({ note: 'a\nb\r\n\u0000\u2028{"fake":1}' }, 'line\nbreak');
  expect(lines.join('').trim().split('\n')).toHaveLength(1);
  const res = await app.call('/faulty/fail', { note: 'x\n\u0007' });
  expect(res.status).toBe(500);
  expect(res.text).not.toMatch(/insert|faulty_rows|stack|at /i);
});
