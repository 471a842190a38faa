// `npm run logs`: an ECS access line (a dozen keys, 12+ lines in pino-pretty) reads as one short line.
import { formatLogLine } from './formatLogLine';

test('an access line becomes one line: time, level, message, request id, caller, action, duration', () => {
  const line = JSON.stringify({
    'log.level': 'info', '@timestamp': '2026-11-22T19:53:27.078Z', 'process.pid': 1, 'host.hostname': 'vm', 'ecs.version': '8.10.0',
    http: { request: { id: 'r1', method: 'POST' }, response: { status_code: 200 } }, url: { path: '/notes/add' },
    user: { name: 'default' }, dbapi: { action: 'notes/add' }, event: { duration: 11_700_000 }, message: 'POST /notes/add 200',
  });
  expect(formatLogLine(line)).toBe('19:53:27.078 INFO  POST /notes/add 200 req=r1 user.name=default dbapi.action=notes/add 11.7ms');
});

test('an error keeps its code and message and the first frame of its stack; a line that is not JSON is left as it is', () => {
  const line = JSON.stringify({ 'log.level': 'error', '@timestamp': '2026-11-22T19:53:27.100Z', message: 'POST /m/a 500', error: { code: 'internal', message: 'boom', stack_trace: 'Error: boom\n    at x (a.ts:1:1)\n    at y' } });
  expect(formatLogLine(line)).toBe('19:53:27.100 ERROR POST /m/a 500 error.code=internal error.message=boom stack="Error: boom |     at x (a.ts:1:1)"');
  expect(formatLogLine('> dbapi@0.1.0 dev')).toBe('> dbapi@0.1.0 dev');
});
