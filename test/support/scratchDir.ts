// A fresh folder inside the checkout (git-ignored .tmp/), so TypeScript placed there resolves the project's packages;
// removed after the test file.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const made: string[] = [];
afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

export function scratchDir(prefix: string): string {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.tmp', `${prefix}-`));
  chmodSync(dir, 0o755); // an embedded PostgreSQL may run as the `postgres` user and must pass through
  made.push(dir);
  return dir;
}
