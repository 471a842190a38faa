// `npm run faults`: causes each database fault and hostile input under steady write load with retries, then prints a
// table of what the callers saw and what the database holds (lost or doubled acknowledged writes).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../lib/db/startEmbeddedPostgres';
import { freePort } from '../lib/http/freePort';

const ROOT = join(__dirname, '..');
const TOKEN = 'faults-token-0123456789abcdef';
const WORKERS = 8;
const HARD_LIMIT_MS = 5 * 60_000; // the suite stops by itself, whatever happens
const slug = (s: string) => s.replace(/[^a-z0-9]+/gi, '-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Row {
  fault: string;
  requests: number;
  correct: number;
  fiveXX: number;
  internal: number;
  acked: number;
  lost: number;
  doubled: number;
  restarts: number;
}


async function main() {
  const hardStop = setTimeout(() => {
    process.stderr.write('faults: hard time limit reached\n');
    process.exit(2);
  }, HARD_LIMIT_MS);
  hardStop.unref();

  const dir = mkdtempSync(join(tmpdir(), 'dbapi-faults-'));
  chmodSync(dir, 0o755);
  const pgPort = await freePort();
  let pg: EmbeddedPostgres = await startEmbeddedPostgres({ dir: join(dir, 'postgres'), port: pgPort });
  const admin = postgres(pg.url, { max: 1, onnotice: () => {}, backoff: () => 0.1, connect_timeout: 2 });
  const gwPort = await freePort();
  const base = `http://127.0.0.1:${gwPort}`;

  // The gateway runs as a child process, so a crash is seen (and counted) rather than taking the suite down.
  let gateway: ChildProcess | undefined;
  let restarts = 0;
  let stopping = false;
  const startGateway = () =>
    new Promise<void>((resolve) => {
      gateway = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(__dirname, 'faultGateway.ts')], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: {
          ...process.env, ENVIRONMENT: 'test', BEARER: TOKEN, DATABASE_URL: pg.url, PORT: String(gwPort), LOG_FILE: join(dir, 'gateway.log'),
          LOG_LEVEL: 'info', DB_POOL_MAX: '6', DB_ACQUIRE_TIMEOUT_MS: '1000', DB_TRANSACTION_TIMEOUT_MS: '8000', DB_CONNECT_TIMEOUT_MS: '2000',
        },
      });
      gateway.stdout!.on('data', (d) => String(d).includes('listening') && resolve());
      gateway.once('exit', () => {
        if (stopping) return;
        restarts++;
        setTimeout(() => void startGateway(), 500);
      });
    });
  await startGateway();

  const rows: Row[] = [];
  const acked = new Set<string>();
  let current: Row;

  async function post(path: string, body: unknown, headers: Record<string, string> = {}, raw?: string | Buffer) {
    current.requests++;
    try {
      const res = await fetch(base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
        body: raw ?? JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      if (res.status >= 500) current.fiveXX++;
      if (res.status === 500) current.internal++;
      return { status: res.status, json, headers: res.headers };
    } catch (e) {
      if (process.env.FAULTS_DEBUG) process.stderr.write(`request failed: ${(e as Error).message} ${(e as { cause?: Error }).cause?.message}\n`);
      return { status: 0, json: undefined, headers: new Headers() };
    }
  }

  /** One caller's write: retried with the same Idempotency-Key until acknowledged (or given up after 40 tries). */
  async function write(kind: string, expectRetryable = [503, 504, 409, 0]) {
    const id = `${slug(current.fault)}:${kind}:${randomUUID()}`;
    for (let attempt = 0; attempt < 40; attempt++) {
      const res = await post('/faulty/write', { note: id }, { 'idempotency-key': id });
      const ok = res.status === 200 && typeof res.json?.id === 'string';
      const retryable = expectRetryable.includes(res.status) && (res.status === 0 || typeof res.json?.error?.code === 'string');
      if ((ok || retryable) && res.status !== 0) current.correct++; // a dropped connection is retried, but not correct
      else if (process.env.FAULTS_DEBUG) process.stderr.write(`unexpected answer in ${current.fault}: ${res.status} ${JSON.stringify(res.json)}\n`);
      if (ok) {
        acked.add(id);
        current.acked++;
        return;
      }
      await sleep(Number(res.headers.get('retry-after') ?? 0) > 0 ? 200 : 100);
    }
  }

  async function phase(fault: string, durationMs: number, act: () => Promise<void>) {
    current = { fault, requests: 0, correct: 0, fiveXX: 0, internal: 0, acked: 0, lost: 0, doubled: 0, restarts: 0 };
    const before = restarts;
    let running = true;
    const load = Array.from({ length: WORKERS }, async () => {
      while (running) await write('load');
    });
    const [actDone] = await Promise.all([act(), sleep(durationMs)]);
    void actDone;
    running = false;
    await Promise.all(load);
    current.restarts = restarts - before;
    rows.push(current);
    process.stdout.write(`  ${fault}: ${current.requests} requests\n`);
  }

  const restartPostgres = async (downMs: number) => {
    await pg.stop();
    await sleep(downMs);
    pg = await startEmbeddedPostgres({ dir: join(dir, 'postgres'), port: pgPort });
  };

  console.log('faults: steady load of', WORKERS, 'writers with Idempotency-Key and retries');
  await phase('baseline', 3_000, async () => {});
  await phase('backends killed (pg_terminate_backend)', 5_000, async () => {
    for (let i = 0; i < 10; i++) {
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'dbapi'`.catch(() => {});
      await sleep(400);
    }
  });
  await phase('database restart', 6_000, () => restartPostgres(0));
  await phase('database outage (4 s)', 9_000, () => restartPostgres(4_000));
  await phase('pool exhausted (slow calls)', 5_000, async () => {
    await Promise.all(Array.from({ length: 12 }, () => post('/faulty/write', { note: `slow:${randomUUID()}`, seconds: 2 }).then((r) => {
      if (r.status === 200 || r.status === 503) current.correct++;
    })));
  });
  await phase('statement timeout', 3_000, async () => {
    for (let i = 0; i < 5; i++) {
      const r = await post('/faulty/quick', { note: 'timeout', seconds: 1 });
      if (r.status === 504 && r.json?.error?.code === 'timeout') current.correct++;
    }
  });
  await phase('serialization conflicts (retried, then 409)', 3_000, async () => {
    const rs = await Promise.all(Array.from({ length: 8 }, () => post('/faulty/increment', {})));
    // Retries are bounded (3): a call still colliding after them is answered 409, as the contract says.
    current.correct += rs.filter((r) => r.status === 200 || (r.status === 409 && r.json?.error?.code === 'conflict')).length;
  });
  await phase('hostile input', 3_000, async () => {
    const cases: Array<[string | Buffer, Record<string, string>]> = [
      ['{', {}], [`{"note":${'['.repeat(5000)}${']'.repeat(5000)}}`, {}], [Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), {}],
      ['{"note":"x","__proto__":{"a":1}}', {}], [JSON.stringify({ note: 'x'.repeat(2 * 1024 * 1024) }), {}],
      ['{"note":"x"}', { 'content-type': 'text/plain' }], ['{"note":"a\\nb\\u0000"}', { 'idempotency-key': 'x'.repeat(400) }],
    ];
    for (const [raw, headers] of cases) {
      const r = await post('/faulty/write', undefined, headers, raw);
      if (r.status >= 400 && r.status < 500 && typeof r.json?.error?.code === 'string') current.correct++;
    }
  });

  // What the database holds for every acknowledged write: exactly one row each.
  const counts = new Map<string, number>();
  for (const r of await admin<{ note: string; n: number }[]>`select note, count(*)::int as n from faulty_rows group by note`) counts.set(r.note, r.n);
  for (const id of acked) {
    const row = rows.find((r) => id.startsWith(`${slug(r.fault)}:`))!;
    const n = counts.get(id) ?? 0;
    if (n === 0) row.lost++;
    if (n > 1) row.doubled++;
  }
  // Unacknowledged ids that landed twice count as doubled too.
  for (const [note, n] of counts) {
    if (n > 1 && !acked.has(note) && note.includes(':load:')) rows.find((r) => note.startsWith(`${slug(r.fault)}:`))!.doubled++;
  }

  stopping = true;
  gateway?.kill('SIGTERM');
  await admin.end();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });

  const header = ['fault', 'requests', 'answered correctly', '5xx', '500', 'acked writes', 'acked writes lost', 'writes run twice', 'process restarts'];
  const table = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((h, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${[r.fault, r.requests, r.correct, r.fiveXX, r.internal, r.acked, r.lost, r.doubled, r.restarts].join(' | ')} |`),
  ].join('\n');
  console.log(`\n${table}\n`);
  const bad = rows.some((r) => r.lost > 0 || r.doubled > 0 || r.restarts > 0 || r.internal > 0 || r.correct < r.requests);
  console.log(bad ? 'faults: FAILED (see the table)' : 'faults: passed');
  process.exit(bad ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`faults: ${e?.stack ?? e}\n`);
  process.exit(1);
});
