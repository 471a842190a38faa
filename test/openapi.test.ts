// GET /openapi.json, /docs and /metrics (no token), and dry runs with Prefer: tx=rollback.
import { join } from 'node:path';
import { z } from 'zod';
import { startTestApp, ROOT, FIXTURES, type TestApp } from './support/startTestApp';
import { loadModules } from '../lib/modules/loadModules';
import { buildOpenApi } from '../lib/openapi/buildOpenApi';

const NO_DRY = 'nodry-token-0123456789abcdef';
const DRY = 'dry-token-0123456789abcdef';
let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({
    env: {
      CALLERS: JSON.stringify([
        { name: 'plain', tokens: [NO_DRY], allow: ['*'] },
        { name: 'canary', tokens: [DRY], allow: ['probe/*'], dryRun: true },
      ]),
    },
  });
});
afterAll(() => app.close());

describe('GET /openapi.json', () => {
  let doc: any;
  beforeAll(async () => {
    const res = await app.call('/openapi.json', undefined, { method: 'GET', token: null });
    expect(res.status).toBe(200);
    doc = res.body;
  });
  test('is OpenAPI 3.1 with the bearer scheme and the error body', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Error.properties.error.properties.code.enum).toContain('invalid_params');
  });
  test('has one path per action with its params and result schemas', () => {
    const bar = doc.paths['/example/bar'].post;
    const params = bar.requestBody.content['application/json'].schema;
    expect(params.required).toEqual(['name']);
    expect(params.additionalProperties).toBe(false);
    expect(params.properties.email.format).toBe('email');
    expect(bar.responses['200'].content['application/json'].schema.type).toBe('array');
    expect(bar.responses['400'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    expect(doc.paths['/example'].post.operationId).toBe('example');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/example/foo', '/probe/insert', '/rows/series', '/_batch']));
  });

  test('every action carries an example its own params schema accepts, declared or derived, and its description', () => {
    const actions = [join(ROOT, 'modules'), FIXTURES].flatMap((dir) => loadModules(dir, ['default'])).flatMap((m) => m.actions);
    expect(actions.length).toBeGreaterThan(5);
    for (const a of actions) {
      const example = doc.paths[a.path].post.requestBody.content['application/json'].example;
      expect([a.id, a.params.safeParse(example).success]).toEqual([a.id, true]);
    }
    expect(doc.paths['/example/bar'].post.requestBody.content['application/json'].example).toEqual({ name: 'ann', email: 'ann@example.com' });
    expect(doc.paths['/example/bar'].post.description).toMatch(/^Upserts the user/);
    expect(doc.tags).toContainEqual({ name: 'example', description: expect.stringMatching(/skeleton/) });
  });
});

describe('a derived example', () => {
  const derive = (schema: z.ZodType) => buildOpenApi([{ name: 'm', dir: '', actions: [{ id: 'm/a', module: 'm', name: 'a', path: '/m/a', params: schema, database: false, needs: { readOnly: false, retryOnConflict: false }, handler: () => 1 }] }], { title: 't', version: '1' })
    .paths['/m/a'] as any;
  test('fills formats, bounds and enums so the schema accepts it', () => {
    const schema = z.strictObject({ email: z.email(), id: z.uuid(), n: z.int().min(5).max(9), kind: z.enum(['a', 'b']), code: z.string().min(12), tags: z.array(z.string()).min(1), when: z.iso.datetime().optional() });
    const example = derive(schema).post.requestBody.content['application/json'].example;
    expect(schema.safeParse(example).success).toBe(true);
  });
  test('is left out when the schema would refuse it', () => {
    const schema = z.strictObject({ code: z.string().regex(/^[A-Z]{3}$/) });
    expect(derive(schema).post.requestBody.content['application/json']).not.toHaveProperty('example');
  });
});

test('GET / points to /docs; /favicon.ico is an icon, not a 401', async () => {
  const page = await fetch(`${app.url}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }, redirect: 'manual' });
  expect([page.status, page.headers.get('location')]).toEqual([302, '/docs']);
  const json = await app.call('/', undefined, { method: 'GET', token: null });
  expect([json.status, json.body.docs]).toEqual([200, '/docs']);
  const icon = await app.call('/favicon.ico', undefined, { method: 'GET', token: null });
  expect([icon.status, icon.headers.get('content-type')]).toEqual([200, 'image/png']);
});

test('GET /docs is a page served with its assets from here', async () => {
  const page = await app.call('/docs', undefined, { method: 'GET', token: null });
  expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
  expect(page.text).not.toMatch(/https?:\/\//);
  for (const asset of ['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css', '/docs/init.js']) {
    expect([asset, (await app.call(asset, undefined, { method: 'GET', token: null })).status]).toEqual([asset, 200]);
  }
});

describe('GET /metrics', () => {
  test('counts requests by action, caller and status, with latency and pool and transaction figures', async () => {
    await app.call('/probe/insert', { note: 'm1' });
    await app.call('/probe/fail', { note: 'm1' });
    await app.call('/example/foo', {});
    const res = await app.call('/metrics', undefined, { method: 'GET', token: null });
    expect([res.status, res.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/plain/)]);
    expect(res.text).toMatch(/dbapi_requests_total\{action="probe\/insert",caller="default",status="200"\} 1/);
    expect(res.text).toMatch(/dbapi_requests_total\{action="probe\/fail",caller="default",status="500"\} 1/);
    expect(res.text).toMatch(/dbapi_requests_total\{action="example\/foo",caller="default",status="400"\} 1/);
    expect(res.text).toMatch(/dbapi_request_duration_seconds_bucket\{le="0.5",action="probe\/insert",caller="default"\} 1/);
    expect(res.text).toMatch(/dbapi_db_pool_size\{database="default"\} 10/);
    expect(res.text).toMatch(/dbapi_db_pool_in_use\{database="default"\} 0/);
    expect(res.text).toMatch(/dbapi_db_pool_waiting\{database="default"\} 0/);
    expect(Number(/dbapi_db_commits_total\{database="default"\} (\d+)/.exec(res.text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/dbapi_db_rollbacks_total\{database="default"\} (\d+)/.exec(res.text)?.[1])).toBeGreaterThanOrEqual(1);
  });
  test('the transaction figures count each call once: a commit, a rollback, a dry run as a rollback, a running call as in use', async () => {
    const figures = async () => {
      const text = (await app.call('/metrics', undefined, { method: 'GET', token: null })).text;
      const read = (name: string) => Number(new RegExp(`${name}\\{database="default"\\} (\\d+)`).exec(text)?.[1]);
      return { commits: read('dbapi_db_commits_total'), rollbacks: read('dbapi_db_rollbacks_total'), inUse: read('dbapi_db_pool_in_use'), waiting: read('dbapi_db_pool_waiting') };
    };
    const before = await figures();
    await app.call('/probe/insert', { note: 'm2' });
    await app.call('/probe/fail', { note: 'm2' });
    await app.call('/probe/insert', { note: 'm2' }, { headers: { prefer: 'tx=rollback' } });
    const after = await figures();
    expect([after.commits - before.commits, after.rollbacks - before.rollbacks]).toEqual([1, 2]);
    const slow = app.call('/probe/slow', { seconds: 0.5 });
    await new Promise((r) => setTimeout(r, 200));
    expect(await figures()).toMatchObject({ inUse: 1, waiting: 0 });
    expect((await slow).status).toBe(200);
    expect(await figures()).toMatchObject({ inUse: 0, waiting: 0, commits: after.commits + 1 });
  });
  test('unknown paths do not become labels', async () => {
    await app.call('/no/such/path/at/all', {});
    const res = await app.call('/metrics', undefined, { method: 'GET', token: null });
    expect(res.text).not.toMatch(/no\/such/);
  });
});

describe('Prefer: tx=rollback', () => {
  const count = async (note: string) => (await app.db.pool('default')`select count(*)::int as n from probe_rows where note = ${note}`)[0].n;
  test('runs the action, answers its result and commits nothing', async () => {
    const res = await app.call('/probe/insert', { note: 'dry' }, { token: DRY, headers: { prefer: 'return=minimal, tx=rollback' } });
    expect([res.status, res.body, res.headers.get('preference-applied')]).toEqual([200, { id: expect.any(Number) }, 'tx=rollback']);
    expect(await count('dry')).toBe(0);
  });
  test('is refused (403) for a caller not allowed dry runs, and nothing runs', async () => {
    const res = await app.call('/probe/insert', { note: 'dry2' }, { token: NO_DRY, headers: { prefer: 'tx=rollback' } });
    expect([res.status, res.body.error.code]).toEqual([403, 'forbidden']);
    expect(await count('dry2')).toBe(0);
  });
  test('other Prefer values change nothing', async () => {
    const res = await app.call('/probe/insert', { note: 'wet' }, { token: NO_DRY, headers: { prefer: 'tx=commit' } });
    expect([res.status, res.headers.get('preference-applied')]).toEqual([200, null]);
    expect(await count('wet')).toBe(1);
  });
});
