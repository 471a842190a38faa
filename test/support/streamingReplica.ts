// A primary and a streaming replica of its own for a test file (PostgreSQL's pg_basebackup -R), on loopback. Uses
// Debian's PostgreSQL binaries (PG_BIN to use others): the embedded ones come without pg_basebackup.
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../lib/http/freePort';

const run = promisify(execFile);
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PgServer {
  port: number;
  url: string;
  dir: string;
  start(): Promise<void>;
  /** A fast shutdown: sessions are ended (57P01), as an operator's restart does. */
  stop(): Promise<void>;
}

export interface StreamingPair {
  primary: PgServer;
  replica: PgServer;
  close(): Promise<void>;
}

/** As root, PostgreSQL must run as the `postgres` user. */
function asPostgres(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  return { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) };
}

export async function startStreamingPair(): Promise<StreamingPair> {
  if (!existsSync(join(BIN, 'pg_basebackup'))) {
    throw new Error(`PostgreSQL's pg_basebackup is needed for this test (apt-get install -y postgresql, or PG_BIN=<its bin folder>): not in ${BIN}`);
  }
  const user = asPostgres();
  const root = mkdtempSync(join(tmpdir(), 'dbapi-replica-'));
  chmodSync(root, 0o755);
  const pg = (cmd: string, args: string[]) => run(join(BIN, cmd), args, { ...user, cwd: root, env: { PATH: process.env.PATH ?? '', LC_ALL: 'C' } });
  const server = (dir: string, port: number): PgServer => ({
    port, dir, url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: async () => void (await pg('pg_ctl', ['start', '-w', '-t', '30', '-D', dir, '-l', `${dir}.log`])),
    stop: async () => void (await pg('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', dir])),
  });
  const primary = server(join(root, 'primary'), await freePort());
  const replica = server(join(root, 'replica'), await freePort());
  mkdirSync(primary.dir, { mode: 0o700 });
  if (user) chownSync(primary.dir, user.uid, user.gid);
  if (user) chownSync(root, user.uid, user.gid);
  // Trust on loopback only: a throw-away cluster for one test file. Replication connections are allowed by initdb's
  // default pg_hba.conf (127.0.0.1 replication lines).
  await pg('initdb', ['-D', primary.dir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-sync']);
  appendFileSync(join(primary.dir, 'postgresql.conf'), [
    `port = ${primary.port}`, "listen_addresses = '127.0.0.1'", "unix_socket_directories = ''", 'fsync = off',
    'full_page_writes = off', 'hot_standby_feedback = on', 'wal_receiver_status_interval = 1s',
    '',
  ].join('\n'));
  await primary.start();
  // -R writes primary_conninfo and standby.signal; the slot keeps the WAL a stopped replica still needs.
  await pg('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', replica.dir, '-R', '-X', 'stream', '-C', '-S', 'dbapi_test_replica', '--no-sync']);
  appendFileSync(join(replica.dir, 'postgresql.conf'), `port = ${replica.port}\n`);
  await replica.start();
  return {
    primary, replica,
    async close() {
      await replica.stop().catch(() => {});
      await primary.stop().catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
}
