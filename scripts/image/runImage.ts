// Runs the gateway image built by scripts/image/test.sh as a container would, and checks it (exits non-zero on the
// first failure): the image's own ENTRYPOINT + CMD under `buildah run` (chroot isolation, host network) against
// PostgreSQL on loopback, secrets as files (BEARER_FILE, DATABASE_URL_FILE) like Docker's /run/secrets; /health and
// /ready 200, the image's HEALTHCHECK passes, an unauthenticated call 401 and a database call 200, the gateway process
// not root, its log written to the writable logs/, every line patches/ adds to postgres.js present in the image, and
// SIGTERM to the container's first process (tini, as `docker stop` does) drains a call in flight and exits 0 within
// the grace period. Usage: tsx scripts/image/runImage.ts <image>
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';

const IMAGE = process.argv[2];
const ADMIN_URL = process.env.IMAGE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TOKEN = 'image-test-token-0123456789abcdef';
const GRACE_MS = 30_000; // docker-stack.yml's stop_grace_period and k8s/'s terminationGracePeriodSeconds
const PATCH = join(__dirname, '..', '..', 'patches', 'postgres+3.4.9.patch');

function buildah(...args: string[]): string {
  return execFileSync('buildah', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function check(ok: unknown, what: string): void {
  if (!ok) throw new Error(`image check failed: ${what}`);
  console.log(`ok  ${what}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

async function waitUntil(fn: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`image check failed: ${what} within ${ms} ms`);
}

/** The processes under `pid` on this host (chroot isolation shares the host's PID namespace). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch { /* gone */ }
  }
  const out: number[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => { out.push(c); walk(c); });
  walk(pid);
  return out;
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function uids(pid: number): number[] {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!;
  return line.split(/\s+/).slice(1).map(Number);
}

/** Files and folders under `root` changed since `since` (ms), but for the kernel's and the runtime's own places. */
function changedSince(root: string, since: number, skip: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = path.slice(root.length);
      if (skip.some((s) => rel === s || rel.startsWith(`${s}/`))) continue;
      const st = lstatSync(path);
      if (st.mtimeMs >= since) out.push(rel);
      if (st.isDirectory()) walk(path);
    }
  };
  walk(root);
  return out;
}

/** A POST whose body arrives in two parts, the second after `between` has run: a call in flight meanwhile. */
function slowCall(port: number, between: () => Promise<void>): Promise<{ status: number; head: string; body: string }> {
  const body = JSON.stringify({ name: 'drain' });
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (c) => (raw += c));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head, rest = ''] = raw.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), head: head.toLowerCase(), body: rest });
    });
    socket.on('connect', async () => {
      socket.write(`POST /example/foo HTTP/1.1\r\nHost: image\r\nContent-Type: application/json\r\n`
        + `Authorization: Bearer ${TOKEN}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
      await between().catch(reject);
      socket.write(body.slice(5));
    });
  });
}

async function main(): Promise<void> {
  if (!IMAGE) throw new Error('usage: tsx scripts/image/runImage.ts <image>');
  const config = JSON.parse(buildah('inspect', '--type', 'image', IMAGE)).Docker.config;
  check(config.User === 'node', `the image runs as the node user (USER ${config.User})`);
  check(config.Healthcheck?.Test?.length > 1, 'the image keeps its HEALTHCHECK');

  const dir = mkdtempSync(join(tmpdir(), 'dbapi-image-'));
  chmodSync(dir, 0o755);
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  const dbName = `dbapi_image_${process.pid}`;
  await admin.unsafe(`create database ${dbName}`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  // Secrets as Docker mounts them: files readable by the container's user, named by *_FILE.
  writeFileSync(join(dir, 'bearer'), `${TOKEN}\n`, { mode: 0o444 });
  writeFileSync(join(dir, 'database_url'), `${dbUrl}\n`, { mode: 0o444 });

  const ctr = buildah('from', '--pull=never', IMAGE);
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const startedAt = Date.now() - 1_000;
    const port = await freePort();
    buildah('config', '--env', `PORT=${port}`, '--env', 'HOST=127.0.0.1', '--env', 'MIGRATE_ON_START=true',
      '--env', 'BEARER_FILE=/run/secrets/dbapi_bearer', '--env', 'DATABASE_URL_FILE=/run/secrets/dbapi_database_url',
      '--env', 'LOG_FILE=logs/dbapi-1.log', ctr);
    const mounts = ['bearer', 'database_url'].flatMap((f) => ['--volume', `${join(dir, f)}:/run/secrets/dbapi_${f}:ro`]);
    const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
    child = spawn('buildah', ['run', '--isolation', 'chroot', '--network', 'host', ...mounts, ctr, '--', ...argv],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitUntil(async () => {
        if (child!.exitCode !== null) throw new Error('exited');
        return (await fetch(`${base}/health`)).status === 200;
      }, 90_000, 'GET /health answers 200');
    } catch (e) {
      console.error(output);
      throw e;
    }
    check(true, 'GET /health answers 200');
    check((await fetch(`${base}/ready`)).status === 200, 'GET /ready answers 200 (migrations ran on start)');

    const healthcheck = execFileSync('buildah', ['run', '--isolation', 'chroot', '--network', 'host', ctr, '--',
      ...config.Healthcheck.Test.slice(1)], { stdio: 'ignore' }) !== undefined;
    check(healthcheck, "the image's HEALTHCHECK command exits 0");

    const anonymous = await fetch(`${base}/example/bar`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    check(anonymous.status === 401, 'a call without the token from BEARER_FILE answers 401');
    const call = await fetch(`${base}/example/bar`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ name: 'image', email: 'image@example.com' }),
    });
    const answer = await call.text();
    check(call.status === 200 && answer.includes('image@example.com'),
      `POST /example/bar answers 200 through DATABASE_URL_FILE's database (${call.status} ${answer.slice(0, 120)})`);

    const procs = descendants(child.pid!);
    const tini = procs.find((p) => cmdline(p)[0] === '/usr/bin/tini');
    const gateway = procs.find((p) => cmdline(p).includes('src/main.ts') && cmdline(p)[0] === 'node');
    check(tini && gateway, `tini and node src/main.ts run in the container (${procs.map((p) => cmdline(p).join(' ')).join(' | ')})`);
    check(uids(gateway!).every((u) => u === 1000) && uids(tini!).every((u) => u === 1000),
      `the gateway and tini are not root (uid ${uids(gateway!).join('/')})`);

    const root = buildah('mount', ctr);
    const log = join(root, 'app', 'logs', 'dbapi-1.log');
    await waitUntil(async () => existsSync(log) && readFileSync(log, 'utf8').includes('"status_code":200'), 5_000,
      'the call\'s access line in /app/logs/dbapi-1.log');
    check(statSync(log).uid === 1000, 'the gateway writes its JSON log to /app/logs (owned by node)');
    check(statSync(join(root, 'app', 'src')).uid === 0 && (statSync(join(root, 'app', 'src')).mode & 0o022) === 0,
      'the code is root-owned and not writable by the node user');
    // The lockfile marks every package only development needs (`dev: true`): none of them may be in the image.
    const lock = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package-lock.json'), 'utf8'));
    const devOnly = Object.entries(lock.packages as Record<string, { dev?: boolean }>).filter(([path, p]) => path && p.dev);
    const shipped = devOnly.filter(([path]) => existsSync(join(root, 'app', path))).map(([path]) => path);
    check(devOnly.length > 100 && shipped.length === 0,
      `none of the ${devOnly.length} development-only packages is in the image (found: ${shipped.slice(0, 10).join(' ') || 'none'})`);
    let patched = 0;
    let file = '';
    for (const line of readFileSync(PATCH, 'utf8').split('\n')) {
      if (line.startsWith('+++ b/')) file = readFileSync(join(root, 'app', line.slice('+++ b/'.length)), 'utf8');
      else if (line.startsWith('+') && line.trim().length > 1) {
        if (!file.includes(line.slice(1))) throw new Error(`image check failed: the postgres.js patch line is missing: ${line}`);
        patched++;
      }
    }
    check(patched > 10, `the postgres.js patch is in the image (${patched} added lines found in /app/node_modules/postgres)`);
    buildah('umount', ctr);

    let signalled = 0;
    const drained = await slowCall(port, async () => {
      signalled = Date.now();
      process.kill(tini!, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 1_000));
    });
    check(drained.status === 200 && drained.head.includes('connection: close'),
      `a call in flight when SIGTERM came is answered (${drained.status}, Connection: close)`);
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), GRACE_MS))]);
    const took = Date.now() - signalled;
    check(code === 0, `SIGTERM: the container exits 0 within the ${GRACE_MS / 1000} s grace period (exit ${code}, ${took} ms)`);
    check(output.includes('draining'), 'the gateway logged its drain');
    // What k8s/ runs with readOnlyRootFilesystem needs: the gateway wrote only to logs/ and /tmp (both emptyDirs there).
    const after = buildah('mount', ctr);
    const changed = changedSince(after, startedAt, ['/proc', '/sys', '/dev', '/run', '/etc/hosts', '/etc/hostname',
      '/etc/resolv.conf', '/app/logs', '/tmp']);
    const tmp = changedSince(join(after, 'tmp'), startedAt, []);
    buildah('umount', ctr);
    check(changed.length === 0, `the gateway wrote nowhere but /app/logs and /tmp (elsewhere: ${changed.slice(0, 20).join(' ') || 'none'}; /tmp: ${tmp.length} entries, tsx's cache)`);
  } finally {
    if (child && child.exitCode === null) { // a failed check: the container's processes go too, not only buildah
      for (const pid of descendants(child.pid!).reverse()) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      child.kill('SIGKILL');
    }
    try { buildah('rm', ctr); } catch { /* already gone */ }
    await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
