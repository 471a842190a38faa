// `npm run faults`: causes each database fault and hostile input under steady write load with retries, then prints a
// table of what the callers saw and what the database holds (lost or doubled acknowledged writes).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
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
// Every call is answered within this while the path to PostgreSQL drops packets (README: DB_PROBE_AFTER_MS + about
// 1.5 s, or DB_CONNECT_TIMEOUT_MS / DB_ACQUIRE_TIMEOUT_MS when longer).
const PARTITION_BOUND_MS = 5_000;
// The p99 of the answered writes under 10x overload stays under this (a queue of DB_MAX_WAITING in front of the pool).
const OVERLOAD_P99_BOUND_MS = 2_000;

/**
 * Packets between the gateway and PostgreSQL dropped on loopback, both ways, without a reply (`iptables`, as root).
 * The rules are removed whatever happens: after the phase, and on any exit of this process.
 */
function packetDrop(port: number) {
  const rules = ['--dport', '--sport'].map((way) => ['OUTPUT', '-o', 'lo', '-p', 'tcp', way, String(port), '-j', 'DROP']);
  const iptables = (...args: string[]) => execFileSync('iptables', ['-w', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let why = '';
  try {
    iptables('-L', 'OUTPUT', '-n');
  } catch (e) {
    why = `needs root and iptables: ${String((e as Error).message).split('\n')[0]}`;
  }
  let on = false;
  const remove = () => {
    if (!on) return;
    on = false;
    for (const rule of rules) {
      try {
        iptables('-D', ...rule);
      } catch (e) {
        process.stderr.write(`faults: could not remove the iptables rule (${rule.join(' ')}): ${(e as Error).message}\n`);
      }
    }
  };
  process.once('exit', remove);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      remove();
      process.exit(130);
    });
  }
  return {
    available: why === '',
    why,
    add() {
      on = true;
      for (const rule of rules) iptables('-A', ...rule);
    },
    remove,
  };
}

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
  /** The longest any request of the phase took to be answered (or to fail). */
  slowestMs: number;
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
  const gatewayEnv = (port: number, log: string) => ({
    ...process.env, ENVIRONMENT: 'test', BEARER: TOKEN, DATABASE_URL: pg.url, PORT: String(port), LOG_FILE: join(dir, log),
    LOG_LEVEL: 'info', DB_POOL_MAX: '6', DB_ACQUIRE_TIMEOUT_MS: '1000', DB_TRANSACTION_TIMEOUT_MS: '8000', DB_CONNECT_TIMEOUT_MS: '2000',
  });
  const startGateway = () =>
    new Promise<void>((resolve) => {
      gateway = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(__dirname, 'faultGateway.ts')], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: gatewayEnv(gwPort, 'gateway.log'),
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
    const sent = performance.now();
    const row = current;
    const took = () => (row.slowestMs = Math.max(row.slowestMs, performance.now() - sent));
    try {
      const res = await fetch(base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
        body: raw ?? JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      took();
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
      took();
      if (process.env.FAULTS_DEBUG) process.stderr.write(`request failed: ${(e as Error).message} ${(e as { cause?: Error }).cause?.message}\n`);
      return { status: 0, json: undefined, headers: new Headers() };
    }
  }

  /** One caller's write: retried with the same Idempotency-Key until acknowledged (or given up after 40 tries). */
  async function write(kind: string, expectRetryable = [503, 504, 409, 0], seconds = 0) {
    const id = `${slug(current.fault)}:${kind}:${randomUUID()}`;
    for (let attempt = 0; attempt < 40; attempt++) {
      const res = await post('/faulty/write', seconds ? { note: id, seconds } : { note: id }, { 'idempotency-key': id });
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

  async function phase(fault: string, durationMs: number, act: () => Promise<void>, writers = WORKERS) {
    if (process.env.FAULTS_ONLY && !fault.includes(process.env.FAULTS_ONLY)) return; // a debugging aid
    current = { fault, requests: 0, correct: 0, fiveXX: 0, internal: 0, acked: 0, lost: 0, doubled: 0, restarts: 0, slowestMs: 0 };
    const before = restarts;
    let running = true;
    const load = Array.from({ length: writers }, async () => {
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

  /**
   * 500 callers at once against a gateway with a pool of 10: first 16 callers (about the pool's best concurrency) for
   * the reference throughput, then 500. Each caller writes with its own Idempotency-Key and, refused, waits the
   * Retry-After it was given (jittered) before trying again with the same key, as the typed client does.
   */
  async function overloadPhase() {
    const port = await freePort();
    const managementPort = await freePort();
    const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(__dirname, 'faultGateway.ts')], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...gatewayEnv(port, 'overload.log'), DB_POOL_MAX: '10', DB_MAX_WAITING: '100', DB_ACQUIRE_TIMEOUT_MS: '3000', LOG_LEVEL: 'warn', METRICS_PORT: String(managementPort) },
    });
    await new Promise<void>((resolve) => child.stdout!.on('data', (d) => String(d).includes('listening') && resolve()));
    const url = `http://127.0.0.1:${port}`;
    const timed = async (path: string, init: RequestInit) => {
      const t = performance.now();
      try {
        const res = await fetch(url + path, { ...init, signal: AbortSignal.timeout(15_000) });
        const json: any = await res.json().catch(() => undefined);
        return { status: res.status, json, retryAfter: Number(res.headers.get('retry-after') ?? 0), ms: performance.now() - t };
      } catch {
        return { status: 0, json: undefined, retryAfter: 0, ms: performance.now() - t };
      }
    };
    const m = { ok: [] as number[], refused: [] as number[], refusedWithoutRetryAfter: 0, readyNot200: 0, rssMax: 0, okCount: 0 };
    // The slowest /health and /ready answer and how many probes took over 100 ms, on each port.
    const probes = { gateway: { slowest: 0, count: 0, over100: 0 }, management: { slowest: 0, count: 0, over100: 0 } };
    const run = async (fault: string, callers: number, ms: number) => {
      let okCount = 0;
      await phase(fault, ms, async () => {
        const until = performance.now() + ms;
        await Promise.all(Array.from({ length: callers }, async () => {
          while (performance.now() < until) {
            const id = `${slug(current.fault)}:load:${randomUUID()}`;
            for (let attempt = 0; attempt < 40 && performance.now() < until + 3_000; attempt++) {
              current.requests++;
              const r = await timed('/faulty/write', {
                method: 'POST', body: JSON.stringify({ note: id }),
                headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'idempotency-key': id },
              });
              current.slowestMs = Math.max(current.slowestMs, r.ms);
              if (r.status >= 500) current.fiveXX++;
              if (r.status === 500) current.internal++;
              if (r.status === 200 && typeof r.json?.id === 'string') {
                current.correct++;
                acked.add(id);
                current.acked++;
                okCount++;
                if (callers > 100) m.ok.push(r.ms);
                break;
              }
              if (r.status === 503 && r.json?.error?.code === 'unavailable') {
                current.correct++;
                if (callers > 100) m.refused.push(r.ms);
                if (!(r.retryAfter > 0)) m.refusedWithoutRetryAfter++;
              } else if ((r.status === 504 || r.status === 409) && typeof r.json?.error?.code === 'string') current.correct++;
              else if (process.env.FAULTS_DEBUG) process.stderr.write(`unexpected answer in ${current.fault}: ${r.status} ${JSON.stringify(r.json)}\n`);
              await sleep((r.retryAfter || 0.1) * 1000 * (0.5 + Math.random()));
            }
          }
        }));
      }, 0); // the 500 callers are the load: none on the first gateway
      return okCount / (ms / 1000);
    };
    // /health and /ready on the gateway's port and on its management port (METRICS_PORT), and the gateway's RSS,
    // sampled throughout the overload by a process of its own (the 500 callers' event loop here would otherwise be
    // part of every time measured).
    const prober = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(__dirname, 'probeHealth.ts'), url, `http://127.0.0.1:${managementPort}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let partial = '';
    prober.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        let p: { port?: 'gateway' | 'management'; path?: string; status?: number; ms?: number; rss?: number };
        try {
          p = JSON.parse(line);
        } catch {
          continue; // not a probe's line
        }
        if (p.rss !== undefined) {
          m.rssMax = Math.max(m.rssMax, p.rss);
          continue;
        }
        const seen = probes[p.port as keyof typeof probes];
        if (!seen) continue;
        seen.slowest = Math.max(seen.slowest, p.ms!);
        seen.count++;
        if (p.ms! > 100) seen.over100++;
        if (p.path === '/ready' && p.status !== 200) m.readyNot200++;
      }
    });
    process.once('exit', () => prober.kill());
    // Its first line, or its end (then no probe is counted, and the phase fails): never a wait for ever.
    await new Promise<void>((resolve) => {
      prober.stdout!.once('data', () => resolve());
      prober.once('error', () => resolve()).once('exit', () => resolve());
    });
    const best = await run('overload: 16 callers, pool 10 (reference)', 16, 4_000);
    const rssBefore = m.rssMax;
    for (const seen of Object.values(probes)) seen.slowest = seen.count = seen.over100 = 0;
    const loaded = await run('overload: 500 callers, pool 10', 500, 10_000);
    prober.kill();
    child.kill('SIGTERM');
    const p99 = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] : NaN);
    const okP99 = p99(m.ok);
    const refusedP99 = p99(m.refused);
    const summary = [
      `overload (500 callers, pool 10, DB_MAX_WAITING 100): ${Math.round(loaded)} writes/s acknowledged against ${Math.round(best)} with 16 callers;`,
      `  200s p99 ${Math.round(okP99)} ms; 503s p99 ${Math.round(refusedP99)} ms (${m.refused.length}, ${m.refusedWithoutRetryAfter} without Retry-After);`,
      `  /health and /ready slowest ${Math.round(probes.management.slowest)} ms on the management port (${probes.management.over100} of ${probes.management.count} probes over 100 ms), ${Math.round(probes.gateway.slowest)} ms on the gateway's port (${probes.gateway.over100} of ${probes.gateway.count}); ${m.readyNot200} /ready not 200`,
      `  RSS ${Math.round(rssBefore / 2 ** 20)} MiB at 16 callers, at most ${Math.round(m.rssMax / 2 ** 20)} MiB at 500`,
    ].join('\n');
    // Failures: a refusal without Retry-After, /ready not 200, throughput collapsed. The timings depend on what else
    // the machine runs (the load generator shares its cores), so past their bounds they are flagged, not failed.
    const slow = [
      ...(okP99 < OVERLOAD_P99_BOUND_MS ? [] : [`200s p99 over ${OVERLOAD_P99_BOUND_MS} ms`]),
      ...(probes.management.slowest < 100 ? [] : ['/health or /ready over 100 ms on the management port']),
    ];
    const warning = slow.length ? `\n  WARNING (an overloaded machine, or a regression): ${slow.join('; ')}` : '';
    // No probe answered at all is a failure too (the prober died): the timings above would say nothing.
    const bad = m.refusedWithoutRetryAfter > 0 || m.readyNot200 > 0 || !(loaded >= best / 2) || probes.management.count === 0;
    return { summary: summary + warning, bad };
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

  // A network path that drops packets without a word: no RST, so TCP itself would wait for many minutes.
  const partition = { healedAt: 0, recoveredMs: NaN, boundMs: PARTITION_BOUND_MS };
  const drop = packetDrop(pgPort);
  if (drop.available) {
    await phase('silent partition (10 s, packets dropped)', 13_000, async () => {
      // Calls caught mid-transaction: their statements' answers never come (the commonest case is a call still
      // waiting for its BEGIN, which DB_ACQUIRE_TIMEOUT_MS bounds).
      const caught = Array.from({ length: 4 }, () => write('caught', [503, 504, 409, 0], 1));
      await sleep(300);
      drop.add();
      try {
        await sleep(10_000);
      } finally {
        drop.remove();
      }
      partition.healedAt = performance.now();
      for (let i = 0; i < 60 && Number.isNaN(partition.recoveredMs); i++) {
        const r = await post('/faulty/write', { note: `healed:${randomUUID()}` });
        if (r.status === 200) partition.recoveredMs = performance.now() - partition.healedAt;
        if (r.status === 200 || r.status === 503 || r.status === 504) current.correct++;
        await sleep(50);
      }
      await Promise.all(caught);
    });
  } else {
    process.stdout.write(`  silent partition: NOT RUN (${drop.why})\n`);
  }

  // 10x overload: a second gateway (pool 10) beside the first, 500 callers at once.
  const overload = process.env.FAULTS_ONLY && !'overload'.includes(process.env.FAULTS_ONLY) ? { summary: '', bad: false } : await overloadPhase();

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
  if (process.env.FAULTS_KEEP) console.log(`faults: the gateway logs and the database are kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });

  const header = ['fault', 'requests', 'answered correctly', '5xx', '500', 'acked writes', 'acked writes lost', 'writes run twice', 'process restarts', 'slowest answer (s)'];
  const table = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((h, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${[r.fault, r.requests, r.correct, r.fiveXX, r.internal, r.acked, r.lost, r.doubled, r.restarts, (r.slowestMs / 1000).toFixed(1)].join(' | ')} |`),
  ].join('\n');
  console.log(`\n${table}\n`);
  const partitionRow = rows.find((r) => r.fault.startsWith('silent partition'));
  if (partitionRow) {
    console.log(`silent partition: slowest answer ${(partitionRow.slowestMs / 1000).toFixed(1)} s (bound ${partition.boundMs / 1000} s); `
      + `served again ${Math.round(partition.recoveredMs)} ms after the path healed`);
  }
  console.log(overload.summary);
  const partitionBad = !drop.available && process.env.CI === 'true'
    || (partitionRow !== undefined && (partitionRow.slowestMs > partition.boundMs || !(partition.recoveredMs < 3_000)));
  const bad = partitionBad || overload.bad || rows.some((r) => r.lost > 0 || r.doubled > 0 || r.restarts > 0 || r.internal > 0 || r.correct < r.requests);
  console.log(bad ? 'faults: FAILED (see the table)' : 'faults: passed');
  process.exit(bad ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`faults: ${e?.stack ?? e}\n`);
  process.exit(1);
});
