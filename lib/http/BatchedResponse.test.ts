// Answers written in bursts: each still reaches its own caller whole, in order on a kept-alive connection; one that
// cannot be written costs that answer only; a caller gone before the burst costs nothing.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchedResponse } from './BatchedResponse';

let url: string;
const server = createServer({ ServerResponse: BatchedResponse }, (req, res) => {
  const path = req.url!;
  if (path === '/unwritable') return void res.end(42); // not a string or buffer: end() throws once the burst writes it
  if (path === '/stream') {
    res.write('first;'); // headers sent: not held for the burst
    return void setTimeout(() => res.end('last'), 20);
  }
  if (path === '/gone') return void req.socket.destroy(); // the caller is gone before its answer is written
  if (path === '/twice') {
    res.end('first end');
    if (!res.writableEnded) throw new Error('a held answer must count as ended'); // koa's ctx.writable reads this
    return void res.end('second end'); // ignored, as after any end
  }
  if (path === '/closing') {
    // What answerClientError does when a parse error follows a held answer on its connection: write it, then close.
    res.end('written before the close');
    res.endNow();
    return void req.socket.destroySoon();
  }
  res.setHeader('content-type', 'text/plain');
  res.end(`answer to ${path}`);
});
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

function get(path: string, agent?: Agent) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    request(`${url}${path}`, { agent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject).end();
  });
}

test('200 answers made in the same turns each reach their own caller whole', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 20 });
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => get(`/n${i}`, agent)));
  expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => ({ status: 200, body: `answer to /n${i}` })));
  agent.destroy();
});

test('requests in turn on one kept-alive connection are answered in order', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const answers = await Promise.all(['/a', '/b', '/c'].map((p) => get(p, agent)));
  expect(answers.map((a) => a.body)).toEqual(['answer to /a', 'answer to /b', 'answer to /c']);
  agent.destroy();
});

test('an answer that cannot be written fails alone: the others of its burst are answered, the server goes on', async () => {
  const results = await Promise.allSettled([get('/unwritable'), get('/x'), get('/gone'), get('/y')]);
  expect(results[0].status).toBe('rejected'); // its connection was closed: the caller sees it fail, never hang
  expect(results[2].status).toBe('rejected');
  expect([results[1], results[3]]).toEqual([
    { status: 'fulfilled', value: { status: 200, body: 'answer to /x' } },
    { status: 'fulfilled', value: { status: 200, body: 'answer to /y' } },
  ]);
  expect(await get('/after')).toEqual({ status: 200, body: 'answer to /after' });
});

test('a streamed answer (headers already sent) ends as written', async () => {
  expect(await get('/stream')).toEqual({ status: 200, body: 'first;last' });
});

test('a held answer counts as ended: a second end is ignored', async () => {
  expect(await get('/twice')).toEqual({ status: 200, body: 'first end' });
});

test('endNow writes a held answer at once, so a connection closed right after still delivers it', async () => {
  expect(await get('/closing')).toEqual({ status: 200, body: 'written before the close' });
});
