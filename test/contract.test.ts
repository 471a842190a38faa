// The HTTP contract of DESIGN.md, row by row, over real HTTP against a real PostgreSQL.
import { request as httpRequest } from 'node:http';
import { startTestApp, TOKEN, type TestApp } from './support/startTestApp';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ env: { BODY_LIMIT_BYTES: '2048', DB_STATEMENT_TIMEOUT_MS: '300' } });
});
afterAll(() => app.close());

function expectError(res: { status: number; body: any; headers: Headers }, status: number, code: string) {
  expect([res.status, res.body?.error?.code]).toEqual([status, code]);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.body.error.requestId).toBe(res.headers.get('x-request-id'));
  expect(typeof res.body.error.message).toBe('string');
}

/** Sends exactly these bytes and headers, for cases fetch() would tidy up. */
function rawPost(path: string, body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${app.url}${path}`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c)).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('success', () => {
  test('200 with the handler value as JSON', async () => {
    const res = await app.call('/example/foo', { name: 'ann' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: 'ann', email: null, time: expect.any(String) });
  });
  test('an empty body counts as {}', async () => {
    const res = await app.call('/example', undefined, { raw: '' });
    expect([res.status, res.body]).toEqual([200, true]);
  });
  test('no body and no content type counts as {}', async () => {
    const res = await app.call('/example', undefined, { raw: '', headers: { 'content-type': '' } });
    expect([res.status, res.body]).toEqual([200, true]);
  });
  test('a handler returning undefined answers JSON null', async () => {
    const res = await app.call('/probe/nothing');
    expect([res.status, res.text]).toEqual([200, 'null']);
  });
});

describe('400 invalid_json', () => {
  test.each([['{'], ['{"name": }'], ['nul'], ["{'name':'x'}"]])('body %s', async (raw) => {
    expectError(await app.call('/example/foo', undefined, { raw }), 400, 'invalid_json');
  });
  test('invalid UTF-8', async () => {
    const res = await rawPost('/example/foo', Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` });
    expect([res.status, res.body.error.code]).toEqual([400, 'invalid_json']);
  });
  test('nesting deeper than the limit', async () => {
    const raw = `{"name":${'['.repeat(100)}${']'.repeat(100)}}`;
    expectError(await app.call('/example/foo', undefined, { raw }), 400, 'invalid_json');
  });
});

describe('400 invalid_params', () => {
  test.each([['[]'], ['"text"'], ['42'], ['null'], ['true']])('JSON that is not an object: %s', async (raw) => {
    expectError(await app.call('/example/foo', undefined, { raw }), 400, 'invalid_params');
  });
  test('a missing required field, with its path', async () => {
    const res = await app.call('/example/foo', {});
    expectError(res, 400, 'invalid_params');
    expect(res.body.error.details).toEqual([{ path: 'name', message: expect.any(String) }]);
  });
  test('a wrong type and a bad email, one detail each', async () => {
    const res = await app.call('/example/bar', { name: 5, email: 'not-an-email' });
    expectError(res, 400, 'invalid_params');
    expect(res.body.error.details.map((d: any) => d.path).sort()).toEqual(['email', 'name']);
  });
  test('unknown fields are rejected by name', async () => {
    const res = await app.call('/example/foo', { name: 'ann', admin: true });
    expectError(res, 400, 'invalid_params');
    expect(res.body.error.details).toEqual([{ path: 'admin', message: 'Unknown field' }]);
  });
  test('__proto__ and constructor keys are rejected as unknown fields, harmlessly', async () => {
    const res = await app.call('/example/foo', undefined, { raw: '{"name":"x","__proto__":{"polluted":true},"constructor":{"prototype":{"p":1}}}' });
    expectError(res, 400, 'invalid_params');
    expect(({} as any).polluted).toBeUndefined();
  });
  test('params are validated before any database work: a bad bar call writes nothing', async () => {
    await app.call('/example/bar', { name: 'never-written', email: 'bad' });
    const rows = await app.db.pool('default')`select 1 from users where name = 'never-written'`;
    expect(rows.length).toBe(0);
  });
});

describe('401 unauthorized', () => {
  const cases: Array<[string, Record<string, string>]> = [
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer wrong-token-0123456789abcdef' }],
    ['a bare token', { authorization: TOKEN }],
    ['Bearer Bearer <token>', { authorization: `Bearer Bearer ${TOKEN}` }],
    ['a token with a prefix', { authorization: `Bearer x${TOKEN}` }],
    ['a token with a suffix', { authorization: `Bearer ${TOKEN}x` }],
    ['a trailing space and more', { authorization: `Bearer ${TOKEN} extra` }],
    ['two spaces', { authorization: `Bearer  ${TOKEN}` }],
    ['Basic scheme', { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` }],
    ['Token scheme', { authorization: `Token ${TOKEN}` }],
    ['empty Bearer', { authorization: 'Bearer ' }],
    ['only the scheme', { authorization: 'Bearer' }],
  ];
  test.each(cases)('%s', async (_name, headers) => {
    const res = await app.call('/example/foo', { name: 'ann' }, { token: null, headers });
    expectError(res, 401, 'unauthorized');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });
  test.each([['bearer'], ['BEARER'], ['BeArEr']])('the scheme is case-insensitive: %s', async (scheme) => {
    const res = await app.call('/example/foo', { name: 'ann' }, { token: null, headers: { authorization: `${scheme} ${TOKEN}` } });
    expect(res.status).toBe(200);
  });
  test('unknown paths also need a token (nothing is revealed)', async () => {
    expectError(await app.call('/nope/nothing', {}, { token: null }), 401, 'unauthorized');
  });
});

describe('403 forbidden', () => {
  let scoped: TestApp;
  beforeAll(async () => {
    scoped = await startTestApp({
      env: { CALLERS: JSON.stringify([{ name: 'reporting', tokens: ['reporting-token-0123456789'], allow: ['example/foo', 'probe/*'] }]) },
    });
  });
  afterAll(() => scoped.close());
  test('a valid token outside its scope', async () => {
    const res = await scoped.call('/example/bar', { name: 'x' }, { token: 'reporting-token-0123456789' });
    expectError(res, 403, 'forbidden');
  });
  test('the same token inside its scope, and the caller name reaches the handler', async () => {
    expect((await scoped.call('/example/foo', { name: 'x' }, { token: 'reporting-token-0123456789' })).status).toBe(200);
    expect((await scoped.call('/probe/whoami', {}, { token: 'reporting-token-0123456789' })).body).toBe('reporting');
  });
  test('the scope is checked before the body: a forbidden call with a bad body is still 403', async () => {
    expectError(await scoped.call('/example/bar', undefined, { token: 'reporting-token-0123456789', raw: '{' }), 403, 'forbidden');
  });
});

describe('404 not_found', () => {
  test.each([['/nope'], ['/nope/foo'], ['/example/nope'], ['/example/foo/extra'], ['/']])('%s', async (path) => {
    expectError(await app.call(path, {}), 404, 'not_found');
  });
});

describe('405 method_not_allowed', () => {
  test.each([['GET'], ['PUT'], ['DELETE'], ['PATCH']])('%s on an action path', async (method) => {
    const res = await app.call('/example/foo', method === 'GET' ? undefined : { name: 'x' }, { method });
    expectError(res, 405, 'method_not_allowed');
    expect(res.headers.get('allow')).toBe('POST');
  });
  test('GET on the root action path', async () => {
    const res = await app.call('/example', undefined, { method: 'GET' });
    expectError(res, 405, 'method_not_allowed');
  });
});

describe('413 payload_too_large', () => {
  test('a declared length over the limit', async () => {
    expectError(await app.call('/example/foo', { name: 'x'.repeat(5000) }), 413, 'payload_too_large');
  });
  test('a chunked body that grows over the limit', async () => {
    const res = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = httpRequest(`${app.url}/example/foo`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'transfer-encoding': 'chunked' } }, (r) => {
        let text = '';
        r.on('data', (c) => (text += c)).on('end', () => resolve({ status: r.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.write('{"name":"');
      req.write('y'.repeat(4000));
      req.end('"}');
    });
    expect([res.status, res.body.error.code]).toEqual([413, 'payload_too_large']);
  });
});

describe('415 unsupported_media_type', () => {
  test.each([['text/plain'], ['application/x-www-form-urlencoded'], ['multipart/form-data; boundary=x'], ['application/jsonp']])('%s', async (type) => {
    expectError(await app.call('/example/foo', { name: 'x' }, { headers: { 'content-type': type } }), 415, 'unsupported_media_type');
  });
  test('a body without a content type', async () => {
    const res = await rawPost('/example/foo', '{"name":"x"}', { authorization: `Bearer ${TOKEN}` });
    expect([res.status, res.body.error.code]).toEqual([415, 'unsupported_media_type']);
  });
  test('application/json with a charset, and +json types, are accepted', async () => {
    expect((await app.call('/example/foo', { name: 'x' }, { headers: { 'content-type': 'application/json; charset=utf-8' } })).status).toBe(200);
    expect((await app.call('/example/foo', { name: 'x' }, { headers: { 'content-type': 'application/vnd.api+json' } })).status).toBe(200);
  });
});

describe('409 conflict', () => {
  test('a unique violation, without the constraint name or SQL', async () => {
    expect((await app.call('/probe/unique', { id: 1 })).status).toBe(200);
    const res = await app.call('/probe/unique', { id: 1 });
    expectError(res, 409, 'conflict');
    expect(res.text).not.toMatch(/probe_unique|pkey|insert|duplicate key/i);
  });
});

describe('504 timeout', () => {
  test('a statement over the statement timeout is rolled back', async () => {
    const res = await app.call('/probe/slow', { seconds: 2 });
    expectError(res, 504, 'timeout');
  });
});

describe('500 internal', () => {
  test('a handler error: generic message, no stack, no SQL', async () => {
    const res = await app.call('/probe/fail', { note: 'c500' });
    expectError(res, 500, 'internal');
    expect(res.body.error.message).toBe('Internal error');
    expect(res.text).not.toMatch(/secret_table|select|at .*\.ts|Error:/);
  });
  test('an SQL error: no SQL text or relation names', async () => {
    const res = await app.call('/probe/sqlerror');
    expectError(res, 500, 'internal');
    expect(res.text).not.toMatch(/no_such_table_xyz|relation|select/i);
  });
});

describe('request ids and other endpoints', () => {
  test('a sane caller request id is echoed on success and error', async () => {
    const ok = await app.call('/example/foo', { name: 'x' }, { headers: { 'x-request-id': 'abc-123' } });
    expect(ok.headers.get('x-request-id')).toBe('abc-123');
    const bad = await app.call('/example/foo', {}, { headers: { 'x-request-id': 'abc-456' } });
    expect([bad.headers.get('x-request-id'), bad.body.error.requestId]).toEqual(['abc-456', 'abc-456']);
  });
  test('an insane request id is replaced', async () => {
    const res = await app.call('/example/foo', { name: 'x' }, { headers: { 'x-request-id': 'a b<script>' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
  test('GET /health and /ready need no token', async () => {
    const health = await app.call('/health', undefined, { method: 'GET', token: null });
    const ready = await app.call('/ready', undefined, { method: 'GET', token: null });
    expect([health.status, ready.status]).toEqual([200, 200]);
    expect(health.headers.get('x-request-id')).toBeTruthy();
  });
  test('/ready is 503 while draining', async () => {
    app.lifecycle.draining = true;
    try {
      expectError(await app.call('/ready', undefined, { method: 'GET', token: null }), 503, 'unavailable');
    } finally {
      app.lifecycle.draining = false;
    }
  });
  test('while start-up migrations wait for the database: /ready and calls are 503 with Retry-After, /health is 200', async () => {
    app.lifecycle.migrating = true;
    try {
      const call = await app.call('/example/foo', { name: 'x' });
      expectError(call, 503, 'unavailable');
      expect(call.headers.get('retry-after')).toBe('1');
      expectError(await app.call('/ready', undefined, { method: 'GET', token: null }), 503, 'unavailable');
      expect((await app.call('/health', undefined, { method: 'GET', token: null })).status).toBe(200);
    } finally {
      app.lifecycle.migrating = false;
    }
  });
  test('large answers are compressed when the caller accepts gzip; small ones are not', async () => {
    const headers = { 'accept-encoding': 'gzip' };
    const big = await new Promise<string | undefined>((resolve) => {
      httpRequest(`${app.url}/probe/large`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } }, (r) => {
        r.resume();
        resolve(r.headers['content-encoding']);
      }).end('{"size":5000}');
    });
    const small = await new Promise<string | undefined>((resolve) => {
      httpRequest(`${app.url}/probe/large`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } }, (r) => {
        r.resume();
        resolve(r.headers['content-encoding']);
      }).end('{"size":10}');
    });
    expect([big, small]).toEqual(['gzip', undefined]);
  });
});
