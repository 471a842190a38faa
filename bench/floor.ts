// The benchmark's floor: bare node:http + postgres.js answering example/foo and example/bar with the same SQL and pool size.
// No framework, auth, validation or logging: what any gateway in front of this SQL must cost at least.
// Usage: node --import tsx bench/floor.ts --port 0 --database-url postgres://... --pool-max 10 [--tx]
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { upsertUser } from '../modules/example/sql';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'database-url': { type: 'string' },
    'pool-max': { type: 'string', default: '10' },
    // Wrap bar's statement in begin/commit, as the gateway's one-transaction-per-call contract does.
    tx: { type: 'boolean', default: false },
  },
});
if (!args['database-url']) throw new Error('floor: --database-url is required');

const sql = postgres(args['database-url'], {
  max: Number(args['pool-max']),
  onnotice: () => {},
  connection: { application_name: 'dbapi-floor', TimeZone: 'UTC' },
});

function readBody(req: IncomingMessage): Promise<{ name: string; email?: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {});
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, value: unknown) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  if (req.method === 'GET' && req.url === '/health') return send(res, 200, { status: 'ok' });
  if (req.method !== 'POST') return send(res, 405, { error: 'method' });
  const params = await readBody(req);
  const email = params.email ?? null;
  if (req.url === '/example/foo') return send(res, 200, { name: params.name, email, time: new Date().toISOString() });
  if (req.url === '/example/bar') {
    const rows = args.tx
      ? await sql.begin((tx) => upsertUser(tx, params.name, email))
      : await upsertUser(sql as never, params.name, email);
    return send(res, 200, rows);
  }
  send(res, 404, { error: 'not found' });
}

const server = createServer((req, res) => {
  handle(req, res).catch(() => send(res, 500, { error: 'internal' }));
});
server.keepAliveTimeout = 65_000;
server.listen(Number(args.port), '127.0.0.1', () => {
  // For a person running it by hand (the runner chose the port).
  process.stdout.write(`floor listening on ${(server.address() as { port: number }).port}\n`);
});
const stop = () => server.close(() => void sql.end({ timeout: 1 }).then(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
