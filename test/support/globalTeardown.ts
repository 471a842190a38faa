// After all tests: stop the embedded PostgreSQL that globalSetup started, if any.
import type { ChildProcess } from 'node:child_process';

export default async function globalTeardown() {
  const child = (globalThis as { __embeddedPg?: ChildProcess }).__embeddedPg;
  if (!child || child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.stdin?.end();
  });
}
