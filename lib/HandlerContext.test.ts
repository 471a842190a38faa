// The handler context: no child logger unless the handler logs; `tx` of a database-less action refuses to run.
import pino from 'pino';
import { HandlerContext } from './HandlerContext';
import { ApiError } from './errors';

const caller = { name: 'svc', tokenHashes: [], allow: ['*'] };

test('the child logger is made once, on first use, bound to the request', () => {
  const lines: string[] = [];
  const log = pino({}, { write: (l: string) => void lines.push(l) });
  const ctx = new HandlerContext({}, caller, log, 'req-1', 'example/foo');
  const { params } = ctx; // destructuring what a handler needs makes no logger
  expect(params).toEqual({});
  expect(ctx.log).toBe(ctx.log);
  ctx.log.info('hello');
  expect(JSON.parse(lines[0])).toMatchObject({ http: { request: { id: 'req-1' } }, user: { name: 'svc' }, dbapi: { action: 'example/foo' } });
});

test('using tx in a `database: false` action is an internal error', () => {
  const ctx = new HandlerContext({}, caller, pino({ level: 'silent' }), 'req-1', 'example/foo');
  expect(() => (ctx.tx as unknown as () => void)()).toThrow(ApiError);
});
