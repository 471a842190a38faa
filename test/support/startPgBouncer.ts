// Runs Debian's PgBouncer (PGBOUNCER to use another) in transaction mode in front of a PostgreSQL server, on loopback,
// as its own process the test can stop and start again on the same port (a restart).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from '../../lib/http/freePort';

const BIN = process.env.PGBOUNCER ?? '/usr/sbin/pgbouncer';

export interface PgBouncer {
  port: number;
  /** The server URL rewritten to go through PgBouncer (same database and user). */
  url(serverUrl: string): string;
  /** An immediate shutdown (SIGTERM): every client and server connection is cut, as a crash or redeploy does. */
  stop(): Promise<void>;
  start(): Promise<void>;
  log(): string;
  close(): Promise<void>;
}

export async function startPgBouncer(serverUrl: string, { poolSize = 10 } = {}): Promise<PgBouncer> {
  if (!existsSync(BIN)) throw new Error(`pgbouncer is needed for this test (apt-get install -y pgbouncer, or PGBOUNCER=<path>): ${BIN} not found`);
  const server = new URL(serverUrl);
  const dir = mkdtempSync(join(tmpdir(), 'dbapi-pgbouncer-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = decodeURIComponent(server.password);
  // auth_type any: clients are not checked (loopback, a test), every database logs in to the server as the URL's user.
  // The settings postgres.js sends at connect that PgBouncer does not track are ignored (see docs/DEPLOY.md).
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=${server.hostname} port=${server.port || 5432} user=${decodeURIComponent(server.username) || 'postgres'}${password ? ` password=${password}` : ''}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1', `listen_port = ${port}`, 'unix_socket_dir =', 'auth_type = any', 'pool_mode = transaction',
    'max_client_conn = 1000', `default_pool_size = ${poolSize}`, 'server_login_retry = 1',
    'ignore_startup_parameters = statement_timeout,idle_in_transaction_session_timeout',
    `logfile = ${join(dir, 'pgbouncer.log')}`, '',
  ].join('\n'), { mode: 0o600 });
  // PgBouncer refuses to run as root: as the `postgres` user then.
  const user = userInfo().uid === 0
    ? { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) }
    : undefined;
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(join(dir, 'pgbouncer.ini'), user.uid, user.gid);
  }
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    const c = spawn(BIN, [join(dir, 'pgbouncer.ini')], { ...user, stdio: 'ignore' });
    child = c;
    exited = new Promise((r) => c.once('exit', () => r()));
    for (const until = Date.now() + 10_000; !(await accepts(port)); await new Promise((r) => setTimeout(r, 20))) {
      if (c.exitCode !== null || Date.now() > until) throw new Error(`pgbouncer did not start: ${readLog()}`);
    }
  }
  const readLog = () => {
    try {
      return readFileSync(join(dir, 'pgbouncer.log'), 'utf8');
    } catch {
      return '';
    }
  };
  async function stop(): Promise<void> {
    if (child && child.exitCode === null) child.kill('SIGTERM');
    await exited;
    child = undefined;
  }
  await start();
  return {
    port,
    url(target) {
      const u = new URL(target);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    stop, start, log: readLog,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), r(true)));
    s.once('error', () => r(false));
  });
}
