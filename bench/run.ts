// `npm run bench`: the gateway as deployed beside the floor server, loaded alternately with autocannon; prints the table.
// Options: --rounds 3 --duration 10 --connections 50 --pool-max 10 --names 10000 --database-url URL | --embedded
//          --skip-koa (no koa reference server) --floor-statement (floor runs bar as one statement, not in begin/commit as the gateway must) --cpu-prof (profiles the gateway and the koa reference into bench/profiles/<server>/)
//          --gateway-env KEY=VALUE (repeatable: overrides a gateway setting, for experiments)
//          --before DIR (another checkout's gateway, loaded in turn: a change's cost in one run) --before-env KEY=VALUE
//          (repeatable: for that one only; with --before . the same code under other settings or node flags)
//          --jwt (the gateway's caller is a JWT, RS256, verified against a JWKS file: the verification cache and the
//          caller's claims in dbapi.claims; the floor and koa keep the static token)
//          --soak SECONDS (after the rounds, loads the gateway that long and samples its RSS) --json FILE
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { freePort } from '../lib/http/freePort';
import { cpus, totalmem, tmpdir, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../lib/db/startEmbeddedPostgres';
// autocannon ships no types; the little used here is described in ./autocannon.d.ts.
import autocannon from 'autocannon';

const ROOT = join(__dirname, '..');
const { values: o } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    'pool-max': { type: 'string', default: '10' },
    names: { type: 'string', default: '10000' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    embedded: { type: 'boolean', default: false },
    'floor-statement': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    soak: { type: 'string', default: '0' },
    json: { type: 'string' },
    only: { type: 'string' }, // foo or bar
    'skip-koa': { type: 'boolean', default: false }, // leave out the koa reference server
    'gateway-env': { type: 'string', multiple: true, default: [] }, // KEY=VALUE overrides, for experiments
    jwt: { type: 'boolean', default: false }, // the gateway's caller sends a JWT instead of the static token
    before: { type: 'string' }, // another checkout of the gateway (a git worktree) loaded alongside: before/after a change
    'before-env': { type: 'string', multiple: true, default: [] }, // KEY=VALUE for the --before gateway only
  },
});
const ROUNDS = Number(o.rounds);
const DURATION = Number(o.duration);
const CONNECTIONS = Number(o.connections);
const NAMES = Number(o.names);
const TOKEN = randomBytes(24).toString('base64url');
const SCENARIOS = (o.only ? [o.only] : ['foo', 'bar']) as Array<'foo' | 'bar'>;

interface Server {
  name: 'gateway' | 'floor' | 'koa' | 'before';
  url: string;
  child: ChildProcess;
}

interface Sample {
  round: number;
  scenario: string;
  server: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  rssMaxMiB: number;
  /** CPU time (user + system) the server spent per answered request, in µs: steadier than req/s on a busy machine. */
  cpuUs: number;
  /** Of cpuUs, the main thread's (JavaScript, the event loop); the rest is GC helpers and libuv's pool (log writes). */
  mainCpuUs: number;
  /** CPU time the PostgreSQL processes spent per answered request, in µs (0 when the database is not on this machine). */
  dbCpuUs: number;
  /** CPU time the load generator (this process, autocannon) spent per answered request, in µs. */
  clientCpuUs: number;
}

/** CPU time (user + system) a process (or, given `thread`, one of its threads) has used so far, in µs, from /proc (Linux). */
function cpuUs(pid: number, thread?: number): number {
  try {
    const fields = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** CPU time of every PostgreSQL process on this machine so far, in µs (0 when the server runs elsewhere). */
function databaseCpuUs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime + stime, and cutime + cstime: a backend that exited meanwhile (a pool's idle connection closed) is
      // counted in the postmaster's, which reaped it
      total += ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1e6) / 100;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident set size of a process, in MiB, from /proc (Linux). */
function rssMiB(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

async function waitHealthy(url: string, child: ChildProcess, name: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before answering`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${name} did not answer /health within 30 s`);
}

/** A fresh database of its own on the server, so runs never mix with tests or earlier runs. */
async function createBenchDatabase(adminUrl: string): Promise<string> {
  const name = `dbapi_bench_${randomBytes(3).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`); // our own name: letters, digits and _
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropBenchDatabase(adminUrl: string, url: string) {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${new URL(url).pathname.slice(1)} with (force)`);
  await admin.end();
}

/** With --jwt: a key pair, its JWKS in a file, and a token for the gateway's bench caller (an hour; scope `*`). */
async function benchJwt(dir: string): Promise<{ env: Record<string, string>; token: string }> {
  const { generateKeyPair, exportJWK, SignJWT } = await import('jose');
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const issuer = 'https://idp.bench.invalid';
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' }] }));
  const token = await new SignJWT({ scope: 'example/*', azp: 'bench-client' }).setProtectedHeader({ alg: 'RS256', kid: 'bench' })
    .setIssuer(issuer).setAudience('dbapi').setSubject('bench').setIssuedAt().setExpirationTime('1h').sign(privateKey);
  return { env: { JWT_ISSUER: issuer, JWT_AUDIENCE: 'dbapi', JWT_JWKS_FILE: join(dir, 'jwks.json') }, token };
}
let gatewayToken = TOKEN;
let jwtEnv: Record<string, string> = {};

/** With --cpu-prof, node's profiler flags for a server: its profile lands in bench/profiles/<name>/ when it exits. */
function profileArgs(name: Server['name']): string[] {
  return o['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench', 'profiles', name)}`] : [];
}

async function startGateway(databaseUrl: string, logFile: string, name: 'gateway' | 'before' = 'gateway', cwd = ROOT): Promise<Server> {
  const port = await freePort();
  // As deployed: production settings, a bearer token, ECS logs to a file and to stdout, migrations on start.
  const child = spawn(process.execPath, [...profileArgs(name), '--import', 'tsx', 'src/main.ts'], {
    cwd,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      ENVIRONMENT: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      BEARER: TOKEN,
      LOG_FILE: logFile,
      LOG_LEVEL: 'info',
      MIGRATE_ON_START: 'true',
      DB_POOL_MAX: o['pool-max'],
      ...jwtEnv,
      ...Object.fromEntries([...o['gateway-env']!, ...(name === 'before' ? o['before-env']! : [])].map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child, name);
  return { name, url, child };
}

async function startFloor(databaseUrl: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...profileArgs('floor'), '--import', 'tsx', 'bench/floor.ts', '--port', String(port), '--database-url', databaseUrl, '--pool-max', o['pool-max']!, ...(o['floor-statement'] ? [] : ['--tx'])],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child, 'floor');
  return { name: 'floor', url, child };
}

/** A plain koa app doing the gateway's per-call work (bench/koaReference.ts): what koa itself costs here. */
async function startKoaReference(databaseUrl: string, logFile: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...profileArgs('koa'), '--import', 'tsx', 'bench/koaReference.ts', '--port', String(port), '--database-url', databaseUrl, '--pool-max', o['pool-max']!, '--token', TOKEN, '--log-file', logFile],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child, 'koa reference');
  return { name: 'koa', url, child };
}

/** Requests each server answered in all, warm-up included: with --cpu-prof, what its profile's time is divided by. */
const served = new Map<Server['name'], number>();

/** Loads one server with one action for `seconds`; names are spread over NAMES rows, half the calls carry an email. */
async function load(server: Server, scenario: string, seconds: number): Promise<Omit<Sample, 'round' | 'scenario' | 'server'>> {
  let n = 0;
  let rssMax = 0;
  const cpuBefore = cpuUs(server.child.pid!);
  const mainBefore = cpuUs(server.child.pid!, server.child.pid!);
  const dbBefore = databaseCpuUs();
  const clientBefore = process.cpuUsage();
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssMiB(server.child.pid!))), 250);
  const result = await autocannon({
    url: `${server.url}/example/${scenario}`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.name === 'gateway' || server.name === 'before' ? gatewayToken : TOKEN}` },
    requests: [{
      setupRequest(req: Record<string, unknown>) {
        n++;
        const name = `user${Math.floor(Math.random() * NAMES)}`;
        req.body = JSON.stringify(n % 2 ? { name, email: `${name}@example.com` } : { name });
        return req;
      },
    }],
  });
  clearInterval(sampler);
  const answered = result.requests.average * seconds;
  served.set(server.name, (served.get(server.name) ?? 0) + result.requests.total);
  return {
    cpuUs: (cpuUs(server.child.pid!) - cpuBefore) / answered,
    mainCpuUs: (cpuUs(server.child.pid!, server.child.pid!) - mainBefore) / answered,
    dbCpuUs: (databaseCpuUs() - dbBefore) / answered,
    clientCpuUs: ((u) => (u.user + u.system) / answered)(process.cpuUsage(clientBefore)),
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    rssMaxMiB: rssMax,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');

async function soak(gateway: Server, seconds: number) {
  console.log(`\nsoak: ${seconds} s of alternating foo/bar on the gateway, RSS every chunk`);
  const chunk = Math.min(10, seconds);
  const series: number[] = [];
  const started = Date.now();
  for (let i = 0; (Date.now() - started) / 1000 < seconds; i++) {
    const r = await load(gateway, i % 2 ? 'bar' : 'foo', chunk);
    const rss = rssMiB(gateway.child.pid!);
    series.push(rss);
    console.log(`  t=${fmt((Date.now() - started) / 1000)} s  ${i % 2 ? 'bar' : 'foo'}  ${fmt(r.rps)} req/s  RSS ${fmt(rss, 1)} MiB (max during ${fmt(r.rssMaxMiB, 1)})`);
  }
  const third = Math.max(1, Math.floor(series.length / 3));
  const early = median(series.slice(0, third));
  const late = median(series.slice(-third));
  console.log(`soak RSS: first third median ${fmt(early, 1)} MiB, last third median ${fmt(late, 1)} MiB, growth ${fmt(late - early, 1)} MiB`);
  return { series, early, late };
}

async function main() {
  const temp = mkdtempSync(join(tmpdir(), 'dbapi-bench-'));
  chmodSync(temp, 0o755);
  const cleanups: Array<() => Promise<unknown> | unknown> = [() => rmSync(temp, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void cleanup().then(() => process.exit(130)));
  try {
    let adminUrl = o['database-url']!;
    if (o.embedded) {
      const pg = await startEmbeddedPostgres({ dir: join(temp, 'postgres') });
      cleanups.push(() => pg.stop());
      adminUrl = pg.url;
    }
    const databaseUrl = await createBenchDatabase(adminUrl);
    cleanups.push(() => dropBenchDatabase(adminUrl, databaseUrl));
    const logFile = join(temp, 'dbapi.log');
    if (o.jwt) ({ env: jwtEnv, token: gatewayToken } = await benchJwt(temp));

    const gateway = await startGateway(databaseUrl, logFile);
    cleanups.push(() => stop(gateway));
    const floor = await startFloor(databaseUrl);
    cleanups.push(() => stop(floor));
    const koa = o['skip-koa'] ? undefined : await startKoaReference(databaseUrl, join(temp, 'koa.log'));
    if (koa) cleanups.push(() => stop(koa));
    // --before DIR: that checkout's gateway (its own log file), loaded in turn with the others: a change's cost measured
    // in one run, on the same machine at the same time, which a shared machine's drift between runs would swamp.
    const before = o.before ? await startGateway(databaseUrl, join(temp, 'before.log'), 'before', o.before) : undefined;
    if (before) cleanups.push(() => stop(before));
    const servers = [gateway, ...(before ? [before] : []), ...(koa ? [koa] : []), floor];
    await sleep(1000);
    const idle = { gateway: rssMiB(gateway.child.pid!), floor: rssMiB(floor.child.pid!) };

    console.log(`dbapi bench: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB, Linux ${release()}, node ${process.version}`);
    console.log(`${ROUNDS} rounds × ${SCENARIOS.join(', ')} × (${servers.map((s) => s.name).join(', ')}, order alternating), ${DURATION} s each, ${CONNECTIONS} connections, pool ${o['pool-max']}, ${NAMES} names, floor bar ${o['floor-statement'] ? 'as one statement' : 'in begin/commit'}`);
    for (const s of servers) for (const sc of SCENARIOS) await load(s, sc, Number(o.warmup)); // JIT, pools, rows

    const samples: Sample[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const scenario of SCENARIOS) {
        const order = round % 2 ? servers : [...servers].reverse(); // A/B, B/A: drift hurts all alike
        for (const server of order) {
          const r = await load(server, scenario, DURATION);
          const sample = { round, scenario, server: server.name, ...r };
          samples.push(sample);
          console.log(`  round ${round}  ${scenario}  ${server.name.padEnd(7)}  ${fmt(r.rps).padStart(6)} req/s  p50 ${fmt(r.p50)} ms  p99 ${fmt(r.p99)} ms  CPU ${fmt(r.cpuUs)} µs/req (main thread ${fmt(r.mainCpuUs)}; database ${fmt(r.dbCpuUs)}, load generator ${fmt(r.clientCpuUs)})  RSS max ${fmt(r.rssMaxMiB, 1)} MiB${r.non2xx || r.errors ? `  !! ${r.non2xx} non-2xx, ${r.errors} errors` : ''}`);
        }
      }
    }

    const summary = SCENARIOS.map((scenario) => {
      const pick = (server: string, key: 'rps' | 'p50' | 'p99' | 'rssMaxMiB' | 'cpuUs') =>
        median(samples.filter((s) => s.scenario === scenario && s.server === server).map((s) => s[key]));
      const g = { rps: pick('gateway', 'rps'), p50: pick('gateway', 'p50'), p99: pick('gateway', 'p99'), rss: pick('gateway', 'rssMaxMiB'), cpu: pick('gateway', 'cpuUs') };
      const f = { rps: pick('floor', 'rps'), p50: pick('floor', 'p50'), p99: pick('floor', 'p99'), rss: pick('floor', 'rssMaxMiB'), cpu: pick('floor', 'cpuUs') };
      const k = { rps: pick('koa', 'rps'), p99: pick('koa', 'p99'), cpu: pick('koa', 'cpuUs') };
      return { scenario, gateway: g, floor: f, koa: k, rpsRatio: g.rps / f.rps, p99Ratio: g.p99 / f.p99 };
    });
    console.log('\nmedians            gateway req/s  floor req/s  ratio   gw p50/p99 ms  floor p50/p99 ms  p99 ratio  gw RSS load  CPU µs/req gw/floor  target');
    for (const s of summary) {
      const [rps, p99] = s.scenario === 'bar' ? [0.85, 1.3] : [0.45, 3];
      const target = `rps ≥ ${rps}, p99 ≤ ${p99}×: ${s.rpsRatio >= rps && s.p99Ratio <= p99 ? 'met' : 'NOT met'}`;
      console.log(`  example/${s.scenario.padEnd(4)}  ${fmt(s.gateway.rps).padStart(13)}  ${fmt(s.floor.rps).padStart(11)}  ${fmt(s.rpsRatio, 3).padStart(5)}  ${`${fmt(s.gateway.p50)}/${fmt(s.gateway.p99)}`.padStart(13)}  ${`${fmt(s.floor.p50)}/${fmt(s.floor.p99)}`.padStart(16)}  ${fmt(s.p99Ratio, 2).padStart(9)}  ${fmt(s.gateway.rss, 1).padStart(7)} MiB  ${`${fmt(s.gateway.cpu)}/${fmt(s.floor.cpu)}`.padStart(19)}  ${target}`);
    }
    if (koa) {
      console.log('\nthe koa reference (plain koa doing the same per-call work) against the same floor:');
      for (const s of summary) {
        console.log(`  example/${s.scenario.padEnd(4)}  koa ${fmt(s.koa.rps)} req/s = ${fmt(s.koa.rps / s.floor.rps, 3)} of the floor, p99 ${fmt(s.koa.p99 / s.floor.p99, 2)}×, CPU ${fmt(s.koa.cpu)} µs/req; the gateway is ${fmt(s.gateway.rps / s.koa.rps, 3)} of koa's req/s at ${fmt(s.gateway.cpu - s.koa.cpu)} µs/req more`);
      }
    }
    if (before) {
      console.log(`\nthis checkout against --before ${o.before} (each round's pair, medians over the rounds):`);
      for (const scenario of SCENARIOS) {
        const pairs = (key: 'rps' | 'cpuUs' | 'mainCpuUs' | 'p99') => median(samples.filter((x) => x.scenario === scenario && x.server === 'gateway')
          .map((g) => g[key] / samples.find((b) => b.scenario === scenario && b.server === 'before' && b.round === g.round)![key]));
        const cpu = (name: string, key: 'cpuUs' | 'mainCpuUs') => median(samples.filter((x) => x.scenario === scenario && x.server === name).map((x) => x[key]));
        console.log(`  example/${scenario.padEnd(4)}  req/s ${fmt(pairs('rps'), 3)}×, p99 ${fmt(pairs('p99'), 2)}×, CPU per call ${fmt(pairs('cpuUs'), 3)}× (${fmt(cpu('gateway', 'cpuUs'))} against ${fmt(cpu('before', 'cpuUs'))} µs; main thread ${fmt(cpu('gateway', 'mainCpuUs'))} against ${fmt(cpu('before', 'mainCpuUs'))})`);
      }
    }
    const afterLoad = rssMiB(gateway.child.pid!);
    console.log(`RSS idle: gateway ${fmt(idle.gateway, 1)} MiB, floor ${fmt(idle.floor, 1)} MiB; gateway after the rounds ${fmt(afterLoad, 1)} MiB`);
    if (o['cpu-prof']) {
      for (const [name, n] of served) {
        console.log(`profiled: ${name} answered ${n} requests: npx tsx bench/summarizeProfile.ts --requests ${n} bench/profiles/${name}/CPU.*.0.001.cpuprofile`);
      }
    }
    // Counted in the bytes: a fast run's log file is larger than the longest string V8 can make.
    const log = readFileSync(logFile);
    let logLines = 0;
    for (let i = log.indexOf(10); i !== -1; i = log.indexOf(10, i + 1)) logLines++;
    console.log(`gateway log file: ${logLines} lines`);

    const soaked = Number(o.soak) > 0 ? await soak(gateway, Number(o.soak)) : undefined;
    if (o.json) writeFileSync(o.json, JSON.stringify({ samples, summary, idle, afterLoad, soak: soaked }, null, 2));
  } finally {
    await cleanup();
  }
}

function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
    server.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    server.child.kill('SIGTERM'); // the gateway drains and, with --cpu-prof, writes its profile on exit
  });
}

main().catch((e) => {
  process.stderr.write(`bench: ${e?.stack ?? e}\n`);
  process.exit(1);
});
