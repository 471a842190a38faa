// Answers written in bursts: each still reaches its own caller whole, in order on a kept-alive connection; one that
// cannot be written costs that answer only; a caller gone before the burst costs nothing.
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchedResponse } from './BatchedResponse';

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer({ ServerResponse: BatchedResponse }, (req, res) => {
    const path = req.url!;
    if (path === '/unwritable') return void res.end(42); // not a string or buffer: end() throws once the burst writes it
    if (path === '/stream') {
      res.write('first;'); // headers sent: not held for the burst
      return void setTimeout(() => res.end('last'), 20);
    }
    if (path === '/gone') return void req.socket.destroy(); // the caller is gone before its answer is written
    res.setHeader('content-type', 'text/plain');
    res.end(`answer to ${path}`);
  });
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
