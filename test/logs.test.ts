// Logs: ECS JSON lines, exactly one access line per request with id, caller, action, status, duration; no tokens.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../lib/log/createLogger';
import { startTestApp, TOKEN, type TestApp } from './support/startTestApp';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

const accessLines = (id: string) => app.logs.filter((l) => l.http?.request?.id === id && l.http?.response);
const settle = () => new Promise((r) => setTimeout(r, 50)); // the access line is written when the response closes

test.each([
  ['success', '/example/foo', { name: 'ann' }, {}, 200, undefined, 'info'],
  ['validation error', '/example/foo', {}, {}, 400, 'invalid_params', 'info'],
  ['unknown action', '/example/none', {}, {}, 404, 'not_found', 'info'],
  ['handler error', '/probe/fail', { note: 'x' }, {}, 500, 'internal', 'error'],
  ['no token', '/example/foo', {}, { token: null }, 401, 'unauthorized', 'info'],
])('%s: exactly one access line', async (_name, path, body, init, status, code, level) => {
  const id = `log-${Math.random().toString(36).slice(2)}`;
  await app.call(path, body, { ...init, headers: { 'x-request-id': id } });
  await settle();
  const lines = accessLines(id);
  expect(lines).toHaveLength(1);
  const [line] = lines;
  expect(line).toMatchObject({ 'log.level': level, 'ecs.version': expect.any(String), '@timestamp': expect.any(String), message: expect.any(String) });
  expect(line.http.response.status_code).toBe(status);
  expect(line.event.duration).toBeGreaterThan(0);
  expect(line.url.path).toBe(path);
  expect(line.error?.code).toBe(code);
  if (status !== 401) expect(line.user).toEqual({ name: 'default' });
  if (status === 200) expect(line.dbapi).toEqual({ action: 'example/foo' });
});

test('an internal error logs its cause (at error level), which the caller never sees', async () => {
  const id = 'log-cause-1';
  const res = await app.call('/probe/fail', { note: 'y' }, { headers: { 'x-request-id': id } });
  await settle();
  const [line] = accessLines(id);
  expect(line.error.message).toMatch(/handler failed after its insert/);
  expect(line.error.stack_trace).toBeDefined();
  expect(res.text).not.toMatch(/handler failed/);
});

test('no token ever reaches a log line, even a wrong or a hostile one', async () => {
  await app.call('/example/foo', { name: 'x' });
  await app.call('/example/foo', { name: 'x' }, { token: 'wrong-token-with-secret-zzz' });
  await app.call('/example/foo', { name: `line\nbreak ${TOKEN}` });
  await settle();
  const all = app.logs.map((l) => JSON.stringify(l)).join('\n');
  expect(all).not.toContain(TOKEN);
  expect(all).not.toContain('wrong-token-with-secret-zzz');
});

test('log lines go to LOG_FILE as one parseable JSON object per line, even with newlines in input', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'dbapi-log-')), 'sub', 'dbapi.log');
  const log = createLogger({ level: 'info', file, stdout: false });
  log.info({ input: 'a\nb\r\u0000c"d' }, 'line one\nstill line one');
  log.warn('two');
  await new Promise((r) => setTimeout(r, 200));
  await log.flushPending();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  expect(lines.map((l) => JSON.parse(l).message)).toEqual(['line one\nstill line one', 'two']);
  expect(JSON.parse(lines[0]).input).toBe('a\nb\r\u0000c"d');
});

test('a burst of lines reaches LOG_FILE whole and in order, multi-byte text and lines larger than a write included', async () => {
  // The batching destination (pino's sonic-boom, patched to remember its pending batch's byte length): every line
  // arrives once, in order, across batch and write boundaries (16 KiB); flushPending() writes the batch still filling.
  const file = join(mkdtempSync(join(tmpdir(), 'dbapi-log-')), 'dbapi.log');
  const log = createLogger({ level: 'info', file, stdout: false });
  const notes = ['ascii', 'grüße ☕ 𝄞 日本語', 'x'.repeat(20_000), 'é'.repeat(9_000)];
  for (let burst = 0; burst < 20; burst++) {
    for (let i = 0; i < 150; i++) log.info({ n: burst * 150 + i, note: notes[i % notes.length] }, 'burst');
    if (burst < 19) await new Promise((r) => setImmediate(r));
  }
  await log.flushPending(); // right after the last burst
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  expect(lines.map((l) => l.n)).toEqual(Array.from({ length: 3000 }, (_, n) => n));
  expect(lines.every((l) => l.note === notes[l.n % 150 % notes.length])).toBe(true);
});

test('a full batch is on disk when the call that filled it returns: lines never wait in memory for a write in flight', () => {
  // Synchronous batched writes (lib/log/createLogger.ts): what a crash can lose is the batch still filling (< 4 KiB),
  // never lines queued behind an earlier write, and nothing to wait for once a batch is written.
  const file = join(mkdtempSync(join(tmpdir(), 'dbapi-log-')), 'dbapi.log');
  const log = createLogger({ level: 'info', file, stdout: false });
  for (let n = 0; n < 400; n++) log.info({ n, pad: 'p'.repeat(100) }, 'batched'); // ~100 KB: many full batches
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  expect(lines.length).toBeGreaterThan(350); // all but the batch still filling, read without awaiting anything
  expect(lines.map((l) => l.n)).toEqual(Array.from({ length: lines.length }, (_, n) => n));
});
