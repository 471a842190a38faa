// Runs a throw-away embedded PostgreSQL for one test run: prints its URL, stops when stdin closes or on SIGTERM.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../lib/db/startEmbeddedPostgres';

async function main() {
  const root = mkdtempSync(join(tmpdir(), 'dbapi-test-pg-'));
  chmodSync(root, 0o755); // PostgreSQL may run as the `postgres` user when we are root
  const pg = await startEmbeddedPostgres({ dir: join(root, 'postgres') });
  process.stdout.write(`${pg.url}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await pg.stop();
    rmSync(root, { recursive: true, force: true });
    process.exit(0);
  };
  process.stdin.on('end', stop).resume();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  process.stderr.write(`embedded test server: ${e?.stack ?? e}\n`);
  process.exit(1);
});
