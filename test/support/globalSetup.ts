// Before all tests: use TEST_DATABASE_URL when given, else start a private embedded PostgreSQL for this run.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export default async function globalSetup() {
  if (process.env.TEST_DATABASE_URL) return;
  const root = join(__dirname, '..', '..');
  const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), [join(__dirname, 'embeddedServer.ts')], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL for tests exited with ${code}`)));
  });
  process.env.TEST_DATABASE_URL = url;
  (globalThis as { __embeddedPg?: typeof child }).__embeddedPg = child;
}
