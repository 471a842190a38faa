// nginx's own refusals (400, 405, 414, 494) through the shipped template (Debian's nginx on loopback): each is the
// gateway's JSON error body (DESIGN.md) with its request id, never nginx's HTML page; its 408 is no answer at all.
// No replica is needed: nginx answers these before it picks one.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERRORS } from '../../lib/errors/ApiError';
import { writeNginxConfig } from './support/nginxConfig';
import { freePort, waitUntil } from './support/startReplica';

const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find(existsSync) ?? 'nginx';

let dir: string;
let nginx: ChildProcess;
let port: number;

interface RawAnswer { status: number; headers: Record<string, string>; body: string }

/** Sends raw bytes (a body may follow after `pauseMs`) and reads the answer until nginx closes the connection. */
function raw(request: string, pauseMs = 0, rest = ''): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, body = ''] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
    socket.write(request);
    if (pauseMs) setTimeout(() => socket.writable && socket.write(rest), pauseMs);
  });
}

function expectJsonError(a: RawAnswer, status: number, code: keyof typeof ERRORS, requestId?: string): void {
  expect(a.status).toBe(status);
  expect(a.headers['content-type']).toBe('application/json');
  const body = JSON.parse(a.body);
  expect(body).toEqual({ error: { code, message: ERRORS[code].message, requestId: expect.any(String) } });
  expect(ERRORS[code].status).toBe(status); // the status the gateway's catalogue gives this code
  expect(a.headers['x-request-id']).toBe(body.error.requestId);
  if (requestId) expect(body.error.requestId).toBe(requestId);
  else expect(body.error.requestId).toMatch(/^[0-9a-f]{32}$/); // nginx's own $request_id
}

beforeAll(async () => {
  const version = spawnSync(NGINX, ['-v']);
  if (version.error) throw new Error(`nginx is needed for this test (apt-get install -y nginx): ${version.error.message}`);
  dir = mkdtempSync(join(tmpdir(), 'dbapi-nginx-errors-'));
  port = await freePort();
  const conf = writeNginxConfig({ dir, port, upstreamPorts: [await freePort()] });
  // The shipped template with its 10 s body timeout shortened, so the 408 comes in a second.
  const snippet = join(dir, 'dbapi.conf');
  const shipped = readFileSync(snippet, 'utf8');
  expect(shipped).toContain('client_body_timeout 10s;');
  writeFileSync(snippet, shipped.replace('client_body_timeout 10s;', 'client_body_timeout 1s;'));
  nginx = spawn(NGINX, ['-p', dir, '-c', conf], { stdio: 'ignore' });
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/nginx-health`).catch(() => undefined))?.status === 200, 10_000, 'nginx');
});

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    nginx.kill('SIGQUIT');
    await new Promise((r) => nginx.once('exit', r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('400: a malformed request line or header is the JSON bad_request', async () => {
  expectJsonError(await raw('GARBAGE\r\n\r\n'), 400, 'bad_request');
  expectJsonError(await raw('POST /example/foo HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n'), 400, 'bad_request');
  expectJsonError(await raw('POST /example/foo HTTP/1.1\r\n\r\n'), 400, 'bad_request'); // HTTP/1.1 without Host
});

test('405: a method nginx refuses itself (TRACE) is the JSON method_not_allowed, with the caller\'s request id', async () => {
  const a = await raw('TRACE /example/foo HTTP/1.1\r\nHost: a\r\nX-Request-Id: trace-1\r\nConnection: close\r\n\r\n');
  expectJsonError(a, 405, 'method_not_allowed', 'trace-1');
});

test('408: a body that stops arriving gets no answer (nginx sends none, HTML or JSON) and is logged 408 with its request id', async () => {
  const started = Date.now();
  const a = await raw('POST /example/foo HTTP/1.1\r\nHost: a\r\nX-Request-Id: slow-body-1\r\nContent-Type: application/json\r\n'
    + 'Content-Length: 20\r\n\r\n{"name":');
  expect(Date.now() - started).toBeGreaterThanOrEqual(900); // client_body_timeout (1 s here) ran out
  expect(a.body).toBe('');
  expect(Number.isNaN(a.status)).toBe(true); // not a byte was sent back: the connection was closed
  await waitUntil(async () => readFileSync(join(dir, 'access.log'), 'utf8').includes('slow-body-1'), 5_000, 'access line');
  const line = readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .find((l) => l['http.request.id'] === 'slow-body-1');
  expect(line['http.response.status_code']).toBe('408');
});

test('414 and 494: a URI or headers past nginx\'s buffers are the JSON headers_too_large (431, as the gateway answers)', async () => {
  expectJsonError(await raw(`POST /${'a'.repeat(9000)} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`), 431, 'headers_too_large');
  expectJsonError(await raw(`POST /example/foo HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(9000)}\r\nConnection: close\r\n\r\n`),
    431, 'headers_too_large');
});

test('every error page of the template is a code of the catalogue with its message', () => {
  const template = readFileSync(join(__dirname, '..', '..', 'nginx', 'templates', 'dbapi.conf.template'), 'utf8');
  const pages = [...template.matchAll(/return (\d{3}) '(\{"error".*\})';/g)];
  expect(pages.length).toBe(7); // 400 405 413 431 502 503 504
  for (const [, status, body] of pages) {
    const { error } = JSON.parse(body.replace('$dbapi_request_id', 'x'));
    const entry = ERRORS[error.code as keyof typeof ERRORS];
    expect(entry).toBeDefined();
    if (error.code !== 'unavailable' && error.code !== 'timeout') { // nginx words its 502/503/504 for the proxy
      expect(error.message).toBe(entry.message);
      expect(Number(status)).toBe(entry.status);
    }
  }
});
