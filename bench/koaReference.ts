// The benchmark's koa reference: a plain koa app doing the gateway's per-call work and nothing else (request id, bearer
// check, JSON body, zod, one ECS access line to a file and stdout, a counter and a histogram, bar in a transaction),
// to tell what koa itself costs on this machine from what the gateway adds.
// Usage: node --import tsx bench/koaReference.ts --port 0 --database-url postgres://... --pool-max 10 --token T --log-file F
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { parseArgs } from 'node:util';
import Koa from 'koa';
import getRawBody from 'raw-body';
import { z } from 'zod';
import pino from 'pino';
import { ecsFormat } from '@elastic/ecs-pino-format';
import { Counter, Histogram, Registry } from 'prom-client';
import postgres from 'postgres';
import { upsertUser } from '../modules/example/sql';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'database-url': { type: 'string' },
    'pool-max': { type: 'string', default: '10' },
    token: { type: 'string' },
    'log-file': { type: 'string' },
  },
});
if (!args['database-url'] || !args.token || !args['log-file']) throw new Error('koa reference: --database-url, --token and --log-file are required');

const sql = postgres(args['database-url'], { max: Number(args['pool-max']), onnotice: () => {}, connection: { application_name: 'dbapi-koa-reference', TimeZone: 'UTC' } });
const tokenHash = createHash('sha256').update(args.token).digest();
const batch = { sync: true, minLength: 4096, periodicFlush: 500 }; // as the gateway's (lib/log/createLogger.ts)
const log = pino({ ...ecsFormat() }, pino.multistream([
  { stream: pino.destination({ dest: args['log-file'], ...batch }), level: 'info' },
  { stream: pino.destination({ dest: 1, ...batch }), level: 'info' },
]));
const registers = [new Registry()];
const requests = new Counter({ name: 'requests_total', help: 'requests', labelNames: ['action', 'status'], registers });
const duration = new Histogram({ name: 'request_duration_seconds', help: 'latency', labelNames: ['action'], registers });
const person = z.strictObject({ name: z.string().min(1).max(200), email: z.email().max(320).optional() });

const app = new Koa();
app.use(async (ctx, next) => {
  const start = process.hrtime.bigint();
  const id = ctx.get('x-request-id') || randomUUID();
  ctx.set('X-Request-Id', id);
  ctx.res.once('close', () => {
    const ns = Number(process.hrtime.bigint() - start);
    log.info({ http: { request: { id, method: ctx.method }, response: { status_code: ctx.status } }, url: { path: ctx.path }, event: { duration: ns } }, `${ctx.method} ${ctx.path} ${ctx.status}`);
    requests.inc({ action: ctx.path, status: String(ctx.status) });
    duration.observe({ action: ctx.path }, ns / 1e9);
  });
  await next();
});
app.use(async (ctx) => {
  if (ctx.path === '/health') return void (ctx.body = { status: 'ok' });
  const m = /^bearer (.+)$/i.exec(ctx.get('authorization'));
  if (!m || !timingSafeEqual(createHash('sha256').update(m[1]).digest(), tokenHash)) return void (ctx.status = 401);
  const parsed = person.safeParse(JSON.parse((await getRawBody(ctx.req, { length: ctx.request.length, limit: 1024 * 1024 })).toString('utf8')));
  if (!parsed.success) return void (ctx.status = 400);
  const { name, email = null } = parsed.data;
  ctx.type = 'application/json';
  if (ctx.path === '/example/foo') ctx.body = JSON.stringify({ name, email, time: new Date().toISOString() });
  else if (ctx.path === '/example/bar') ctx.body = JSON.stringify(await sql.begin((tx) => upsertUser(tx, name, email)));
  else ctx.status = 404;
});

const server = app.listen(Number(args.port), '127.0.0.1');
server.keepAliveTimeout = 65_000;
const stop = () => server.close(() => void sql.end({ timeout: 1 }).then(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
