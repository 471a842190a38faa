// Hostile-input edges of the call pipeline (lib/calls/runCall.ts and the steps it calls), each against the real gateway
// on a real PostgreSQL: a streamed answer whose reader stalls, 400 details a body cannot blow up, lone UTF-16
// surrogates, __proto__ / constructor keys inside a batch, and compressed request bodies.
import { connect, type Socket } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import postgres from 'postgres';
import { startTestApp, TOKEN, type TestApp } from './support/startTestApp';
import { serverUrl } from './support/testDatabase';

async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The access lines of one request (by the X-Request-Id it was sent with). */
const accessLines = (app: TestApp, id: string) =>
  app.logs.filter((l) => l.http?.request?.id === id && l.http?.response?.status_code !== undefined);

describe('a streamed answer whose reader stalls', () => {
  // A second connection to the test server, outside the gateway's pool, to watch the gateway's sessions.
  let admin: postgres.Sql;
  beforeAll(() => {
    admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  });
  afterAll(() => admin.end());

  const N = 2_000_000; // ~55 MB of NDJSON: far more than the socket buffers hold

  /** Sends POST /rows/series on a raw socket that never reads a byte of the answer. */
  function stalledReader(app: TestApp, requestId: string): { socket: Socket; closed: Promise<void> } {
    const body = JSON.stringify({ n: N });
    const socket = connect({ port: app.port, host: '127.0.0.1' });
    socket.pause(); // never reads (no 'data' listener either): the kernel's buffers fill, then the server's stays full
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    socket.write(
      `POST /rows/series HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nX-Request-Id: ${requestId}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    return { socket, closed };
  }

  /** The gateway's sessions on this database that hold a transaction or run a statement. */
  async function busySessions(database: string): Promise<string[]> {
    const rows = await admin`
      select state from pg_stat_activity
      where datname = ${database} and application_name = 'dbapi' and state in ('active', 'idle in transaction', 'idle in transaction (aborted)')`;
    return rows.map((r) => r.state as string);
  }

  const databaseOf = async (app: TestApp) => (await app.db.pool('default')`select current_database() as d`)[0].d as string;

  describe('past the transaction deadline (DB_TRANSACTION_TIMEOUT_MS)', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp({ env: { DB_POOL_MAX: '1', DB_TRANSACTION_TIMEOUT_MS: '1500', SEND_TIMEOUT_MS: '120000' } });
    });
    afterAll(() => app.close());

    test('the connection is released soon after the deadline, and the access line says 504 timeout', async () => {
      const database = await databaseOf(app);
      const started = Date.now();
      const { socket } = stalledReader(app, 'stall-deadline');
      try {
        // The stream holds its transaction while the reader is stalled...
        await waitFor(async () => (await busySessions(database)).length > 0, 5_000);
        // ...and no longer than the deadline plus a margin.
        await waitFor(async () => (await busySessions(database)).length === 0, 15_000);
        expect(Date.now() - started).toBeLessThan(1_500 + 6_000);
        // The pool's only connection is free again: another call gets it.
        const next = await app.call('/rows/series', { n: 3 }, { headers: { accept: 'application/json' } });
        expect([next.status, next.body?.length]).toEqual([200, 3]);
        // Its one access line carries the error that cut it off, not the 200 its headers announced.
        await waitFor(() => accessLines(app, 'stall-deadline').length > 0, 5_000);
        await new Promise((r) => setTimeout(r, 100));
        expect(accessLines(app, 'stall-deadline').map((l) => [l.http.response.status_code, l.error?.code])).toEqual([[504, 'timeout']]);
      } finally {
        socket.destroy();
      }
    });
  });

  describe('past the send timeout (SEND_TIMEOUT_MS)', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp({ env: { DB_POOL_MAX: '1', DB_TRANSACTION_TIMEOUT_MS: '600000', SEND_TIMEOUT_MS: '500' } });
    });
    afterAll(() => app.close());

    test('the stalled socket is given up and its transaction released long before the deadline', async () => {
      const database = await databaseOf(app);
      const started = Date.now();
      const { socket, closed } = stalledReader(app, 'stall-send');
      try {
        await waitFor(async () => (await busySessions(database)).length > 0, 5_000);
        // Given up after the send timeout (plus the time to fill the buffers): nowhere near the 10 min deadline.
        await waitFor(() => accessLines(app, 'stall-send').length > 0, 15_000);
        expect(Date.now() - started).toBeLessThan(15_000);
        await new Promise((r) => setTimeout(r, 100));
        expect(accessLines(app, 'stall-send').map((l) => [l.http.response.status_code, l.error?.code])).toEqual([[504, 'timeout']]);
        await waitFor(async () => (await busySessions(database)).length === 0, 5_000);
        const next = await app.call('/rows/series', { n: 3 }, { headers: { accept: 'application/json' } });
        expect([next.status, next.body?.length]).toEqual([200, 3]);
        // The server closed the socket: reading now drains what the buffers held, then the connection ends, short of
        // the whole answer and without the last chunk of a finished chunked body.
        let received = 0;
        let tail = ''; // only the count and the last bytes are kept
        socket.on('data', (d: Buffer) => {
          received += d.length;
          tail = (tail + d.toString('latin1')).slice(-16);
        });
        socket.resume();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the server kept the socket open')), 10_000)))])
          .finally(() => clearTimeout(timer));
        expect(received).toBeGreaterThan(0);
        expect(received).toBeLessThan(40 * 1024 * 1024);
        expect(tail.endsWith('0\r\n\r\n')).toBe(false);
      } finally {
        socket.destroy();
      }
    });
  });
});

describe('hostile bodies', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(); // BODY_LIMIT_BYTES: the default 1 MiB
  });
  afterAll(() => app.close());

  const users = async (...names: string[]) =>
    (await app.db.pool('default')`select count(*)::int as n from users where name in ${app.db.pool('default')(names)}`)[0].n as number;

  describe('400 details are capped', () => {
    test('a 1 MiB body of ~116,000 unknown keys: 20 details, the rest counted, a small answer, quickly', async () => {
      let raw = '{"name":"x"';
      let keys = 0;
      while (raw.length < 1024 * 1024 - 16) raw += `,"${(keys++).toString(36)}":0`;
      raw += '}';
      expect(keys).toBeGreaterThan(100_000);
      expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(1024 * 1024);
      const started = Date.now();
      const res = await app.call('/example/foo', undefined, { raw });
      const took = Date.now() - started;
      expect([res.status, res.body.error.code]).toEqual([400, 'invalid_params']);
      expect(res.body.error.details.length).toBeLessThanOrEqual(20);
      expect(res.body.error.details[0]).toEqual({ path: '0', message: 'Unknown field' });
      expect(res.body.error.message).toContain(`of ${keys} problems`);
      expect(Buffer.byteLength(res.text)).toBeLessThan(8 * 1024);
      expect(took).toBeLessThan(2_000);
    });

    test('a batch call\'s action over 128 characters is a 400 that never echoes it', async () => {
      const long = `example/${'q'.repeat(200)}`;
      const res = await app.call('/_batch', { calls: [{ action: long, params: { name: 'x' } }] });
      expect([res.status, res.body.error.code]).toEqual([400, 'invalid_params']);
      expect(res.body.error.details).toEqual([{ path: 'calls.0.action', message: expect.any(String) }]);
      expect(res.text).not.toContain('qqqq');
      expect(res.headers.get('content-length') === null || Number(res.headers.get('content-length')) < 1024).toBe(true);
    });

    test('an unknown action of 100 characters in a batch is a 404 naming its index', async () => {
      const unknown = `example/${'u'.repeat(92)}`;
      expect(unknown).toHaveLength(100);
      const res = await app.call('/_batch', { calls: [{ action: 'example/foo', params: { name: 'a' } }, { action: unknown }] });
      expect([res.status, res.body.error.code, res.body.error.details.index]).toEqual([404, 'not_found', 1]);
    });
  });

  describe('lone UTF-16 surrogates are not text: 400 invalid_json', () => {
    test.each([
      ['a single call\'s value', '/example/foo', '{"name":"\\ud800"}'],
      ['a single call\'s key', '/example/foo', '{"name":"x","\\udc00":1}'],
      ['a value in a batch call\'s params', '/_batch', '{"calls":[{"action":"example/foo","params":{"name":"\\ud800"}}]}'],
      ['a key in a batch call\'s params', '/_batch', '{"calls":[{"action":"example/foo","params":{"name":"x","a\\udfffb":1}}]}'],
      ['a key of the batch itself', '/_batch', '{"calls":[{"action":"example/foo","params":{"name":"x"}}],"\\ud800":1}'],
      ['a string deep in an array', '/_batch', '{"calls":[{"action":"example/foo","params":{"name":"x","list":[[["ok","\\ude00"]]]}}]}'],
    ])('in %s', async (_where, path, raw) => {
      const res = await app.call(path, undefined, { raw });
      expect([res.status, res.body.error.code]).toEqual([400, 'invalid_json']);
    });

    test('a proper surrogate pair is text and is answered', async () => {
      const res = await app.call('/example/foo', undefined, { raw: '{"name":"\\ud83d\\ude00"}' });
      expect([res.status, res.body.name]).toEqual([200, '😀']);
    });
  });

  describe('__proto__ and constructor keys inside /_batch', () => {
    test.each([
      ['__proto__', 'proto-a', '"__proto__":{"email":"a@b.c"}'],
      ['constructor', 'proto-b', '"constructor":{"prototype":{"email":"a@b.c"}}'],
    ])('%s in a call\'s params: refused exactly as in a single call, nothing written', async (key, name, extra) => {
      const params = `{"name":"${name}",${extra}}`;
      const single = await app.call('/example/bar', undefined, { raw: params });
      expect([single.status, single.body.error.code]).toEqual([400, 'invalid_params']);
      expect(single.body.error.details).toEqual([{ path: key, message: 'Unknown field' }]);

      const batch = await app.call('/_batch', undefined, { raw: `{"calls":[{"action":"example/bar","params":{"name":"${name}-ok"}},{"action":"example/bar","params":${params}}]}` });
      expect([batch.status, batch.body.error.code, batch.body.error.details.index, batch.body.error.details.action]).toEqual([400, 'invalid_params', 1, 'example/bar']);
      expect(batch.body.error.details.details).toEqual(single.body.error.details);

      expect(await users(name, `${name}-ok`)).toBe(0);
      expect(({} as Record<string, unknown>).email).toBeUndefined();
    });

    test.each([
      ['a call', '{"calls":[{"action":"example/bar","params":{"name":"proto-c"},"__proto__":{"action":"example/bar"}}]}'],
      ['the batch', '{"calls":[{"action":"example/bar","params":{"name":"proto-c"}}],"__proto__":{"calls":[]}}'],
      ['a call (constructor)', '{"calls":[{"action":"example/bar","params":{"name":"proto-c"},"constructor":{"prototype":{}}}]}'],
    ])('__proto__ or constructor beside the fields of %s is refused too', async (_where, raw) => {
      const res = await app.call('/_batch', undefined, { raw });
      expect([res.status, res.body.error.code]).toEqual([400, 'invalid_params']);
      expect(await users('proto-c')).toBe(0);
    });
  });

  describe('compressed request bodies', () => {
    test.each([
      ['gzip', gzipSync],
      ['x-gzip', gzipSync],
      ['deflate', deflateSync],
    ])('Content-Encoding: %s is decoded and answered', async (coding, encode) => {
      const raw = encode(Buffer.from(JSON.stringify({ name: `z-${coding}`, email: 'z@example.com' })));
      const res = await app.call('/example/foo', undefined, { raw, headers: { 'content-encoding': coding } });
      expect([res.status, res.body.name, res.body.email]).toEqual([200, `z-${coding}`, 'z@example.com']);
    });

    test('a gzip batch that writes is decoded and committed', async () => {
      const raw = gzipSync(JSON.stringify({ calls: [{ action: 'example/bar', params: { name: 'gz-batch' } }] }));
      const res = await app.call('/_batch', undefined, { raw, headers: { 'content-encoding': 'gzip' } });
      expect([res.status, res.body.results]).toEqual([200, [[{ name: 'gz-batch', email: null }]]]);
      expect(await users('gz-batch')).toBe(1);
    });

    test('the body limit counts the decoded size: a small gzip inflating past it is 413', async () => {
      const raw = gzipSync(`{"name":"${'x'.repeat(2 * 1024 * 1024)}"}`);
      expect(raw.length).toBeLessThan(16 * 1024);
      const res = await app.call('/example/foo', undefined, { raw, headers: { 'content-encoding': 'gzip' } });
      expect([res.status, res.body.error.code]).toEqual([413, 'payload_too_large']);
      // Decoded just under the limit it is read whole (and judged by the schema: the name is too long).
      const under = gzipSync(`{"name":"${'x'.repeat(1024 * 1024 - 64)}"}`);
      const ok = await app.call('/example/foo', undefined, { raw: under, headers: { 'content-encoding': 'gzip' } });
      expect([ok.status, ok.body.error.code]).toEqual([400, 'invalid_params']);
    });

    test.each([['br'], ['compress'], ['zstd'], ['gzip, br']])('Content-Encoding: %s is 415', async (coding) => {
      const raw = coding === 'br' ? brotliCompressSync(Buffer.from('{"name":"x"}')) : Buffer.from('{"name":"x"}');
      const res = await app.call('/example/foo', undefined, { raw, headers: { 'content-encoding': coding } });
      expect([res.status, res.body.error.code]).toEqual([415, 'unsupported_media_type']);
    });

    test.each([
      ['bytes that are not gzip', 'gzip', Buffer.from('this is not gzip data at all')],
      ['a gzip cut short', 'gzip', gzipSync(Buffer.from(JSON.stringify({ name: 'y'.repeat(5_000) }))).subarray(0, 40)],
      ['a gzip with a corrupt middle', 'gzip', corrupt(gzipSync(Buffer.from(JSON.stringify({ name: 'y'.repeat(5_000) }))))],
      ['bytes that are not deflate', 'deflate', Buffer.from('this is not deflate data')],
      // Larger than one socket read: the body is still arriving when the decoder fails, and must not be cut off.
      ['a large body that is not gzip', 'gzip', Buffer.alloc(512 * 1024, 'not gzip ')],
    ])('%s: 400 invalid_json', async (_what, coding, raw) => {
      const res = await app.call('/example/foo', undefined, { raw, headers: { 'content-encoding': coding } });
      expect([res.status, res.body.error.code]).toEqual([400, 'invalid_json']);
    });
  });
});

/** A copy of `gz` with bytes of its compressed data (past the 10-byte header) overwritten. */
function corrupt(gz: Buffer): Buffer {
  const copy = Buffer.from(gz);
  for (let i = 12; i < copy.length - 8; i += 3) copy[i] ^= 0xa5;
  return copy;
}
