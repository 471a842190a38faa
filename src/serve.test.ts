// The drain: /ready 503 at once, no new connections, running requests finish with `Connection: close`, idle
// keep-alive connections are left for the proxy to close, all bounded by the shutdown timeout.
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { startTestApp, TOKEN, type TestApp } from '../test/support/startTestApp';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ env: { SHUTDOWN_TIMEOUT_MS: '3000' } });
});
afterAll(async () => {
  if (!app.lifecycle.draining) await app.close();
});

function send(agent: Agent, path: string, body: unknown, method = 'POST') {
  return new Promise<{ status: number; connection?: string; body: string }>((resolve, reject) => {
    const req = request(`${app.url}${path}`, {
      agent, method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c)).on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body: text }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? JSON.stringify(body) : undefined);
  });
}

test('drain: 503 on /ready, refuses new connections, finishes running calls with Connection: close', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  const idle = new Agent({ keepAlive: true, maxSockets: 1 });
  expect((await send(idle, '/health', undefined, 'GET')).status).toBe(200); // leaves an idle keep-alive connection
  const running = send(agent, '/probe/slow', { seconds: 0.5 });
  await new Promise((r) => setTimeout(r, 150));
  const started = Date.now();
  const drained = app.close(); // serving.drain(), then the pools
  expect(app.lifecycle.draining).toBe(true);
  // The idle connection is not cut (nginx may be writing into it): a request on it later is answered, and closes it.
  await new Promise((r) => setTimeout(r, 300));
  const ready = await send(idle, '/ready', undefined, 'GET');
  expect([ready.status, ready.connection]).toEqual([503, 'close']);
  // A new connection is refused: nginx retries that on another replica.
  const refused = await new Promise<string>((resolve) => connect(app.port, '127.0.0.1').on('connect', () => resolve('connected')).on('error', (e: NodeJS.ErrnoException) => resolve(e.code!)));
  expect(refused).toBe('ECONNREFUSED');
  const slow = await running;
  expect([slow.status, slow.connection]).toEqual([200, 'close']);
  await drained;
  expect(Date.now() - started).toBeLessThan(3000 + 5000); // generous: bounded by SHUTDOWN_TIMEOUT_MS plus the pools
  agent.destroy();
  idle.destroy();
});
