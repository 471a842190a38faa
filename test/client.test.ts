// The typed client against the real gateway: typed calls and results, typed errors, retries with one Idempotency-Key.
import { createClient, DbapiError } from '../client';
import { startTestApp, TOKEN, type TestApp } from './support/startTestApp';

type WithRows = import('../client').Modules & { rows: typeof import('./fixtures/modules/rows').default };

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

test('calls are typed by the route tables, and so are their results', async () => {
  const client = createClient({ baseUrl: app.url, token: TOKEN });
  const users = await client.example.bar({ name: 'typed', email: 'typed@example.com' });
  const email: string | null = users[0].email;
  expect(email).toBe('typed@example.com');
  const foo = await client.example.foo({ name: 'ann' });
  expect(foo.time).toEqual(expect.any(String));
  expect(await client.example['']()).toBe(true);
  // @ts-expect-error name is required
  await expect(client.example.foo({})).rejects.toBeInstanceOf(DbapiError);
  // @ts-expect-error no such action
  expect(typeof client.example.nope).toBe('function');
});

test('errors are DbapiError with the code, status, request id and details', async () => {
  const client = createClient({ baseUrl: app.url, token: TOKEN });
  const error = await client.example.foo({ name: 'x', email: 'bad' }, { requestId: 'client-req-1' }).catch((e) => e);
  expect(error).toBeInstanceOf(DbapiError);
  expect([error.code, error.status, error.requestId, error.details]).toEqual(['invalid_params', 400, 'client-req-1', [{ path: 'email', message: expect.any(String) }]]);
  const denied = await createClient({ baseUrl: app.url, token: 'wrong-token-0123456789abcdef' }).example.foo({ name: 'x' }).catch((e) => e);
  expect([denied.code, denied.status]).toEqual(['unauthorized', 401]);
});

test('streamed results arrive as an async iterable', async () => {
  const client = createClient<WithRows>({ baseUrl: app.url, token: TOKEN });
  let n = 0;
  for await (const row of await client.rows.series({ n: 1234 })) {
    const i: number = row.i;
    n = i;
  }
  expect(n).toBe(1234);
});

test('$batch and dryRun', async () => {
  const client = createClient({ baseUrl: app.url, token: TOKEN });
  expect(await client.$batch([{ action: 'example' }, { action: 'example/foo', params: { name: 'b' } }])).toEqual([true, expect.objectContaining({ name: 'b' })]);
  await client.example.bar({ name: 'dry-client' }, { dryRun: true });
  expect((await app.db.pool('default')`select 1 from users where name = 'dry-client'`).length).toBe(0);
});

test('503, 504 and network errors are retried with backoff and the same Idempotency-Key', async () => {
  const seen: string[] = [];
  const failures = ['network', 503, 504];
  const flaky: typeof fetch = async (url, init) => {
    seen.push((init!.headers as Record<string, string>)['idempotency-key']);
    const next = failures.shift();
    if (next === 'network') throw new TypeError('fetch failed');
    if (next) return new Response(JSON.stringify({ error: { code: next === 503 ? 'unavailable' : 'timeout', message: 'm', requestId: 'r' } }), { status: next as number, headers: { 'content-type': 'application/json' } });
    return fetch(url, init);
  };
  const client = createClient({ baseUrl: app.url, token: TOKEN, retries: 3, backoffMs: 10, fetch: flaky });
  expect(await client.example.foo({ name: 'retried' })).toEqual(expect.objectContaining({ name: 'retried' }));
  expect(seen.length).toBe(4);
  expect(new Set(seen).size).toBe(1);
  expect(seen[0]).toMatch(/^[0-9a-f-]{36}$/);
});

test('without retries left, the last error is thrown; other errors are never retried', async () => {
  let calls = 0;
  const down: typeof fetch = async () => {
    calls++;
    return new Response(JSON.stringify({ error: { code: 'unavailable', message: 'down', requestId: 'r1' } }), { status: 503 });
  };
  const error = await createClient({ baseUrl: app.url, token: TOKEN, retries: 2, backoffMs: 1, fetch: down }).example.foo({ name: 'x' }).catch((e) => e);
  expect([error.code, error.status, error.requestId, calls]).toEqual(['unavailable', 503, 'r1', 3]);
  let count = 0;
  const counting: typeof fetch = (url, init) => (count++, fetch(url, init));
  await createClient({ baseUrl: app.url, token: TOKEN, retries: 5, fetch: counting }).example.foo({ name: 'x', email: 'bad' }).catch(() => {});
  expect(count).toBe(1);
});
