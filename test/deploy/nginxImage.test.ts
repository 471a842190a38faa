// The nginx image is pinned to an exact release that has `resolve` in upstream server lines (nginx >= 1.27.3), which
// the stack's DBAPI_UPSTREAM_SERVERS uses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

test('nginx/Dockerfile pins an exact nginx release >= 1.27.3, the first with upstream `resolve`', () => {
  const from = /^FROM nginx:(\S+)$/m.exec(readFileSync(join(ROOT, 'nginx', 'Dockerfile'), 'utf8'))![1];
  const m = /^(\d+)\.(\d+)\.(\d+)(-[a-z0-9.-]+)?$/.exec(from);
  expect(m).not.toBeNull(); // major.minor.patch: never a floating tag
  const [major, minor, patch] = m!.slice(1, 4).map(Number);
  expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(1_027_003);
  for (const file of ['docker-stack.yml', 'nginx/Dockerfile']) {
    expect(readFileSync(join(ROOT, file), 'utf8')).toMatch(/server tasks\.dbapi:8000 resolve/); // what needs it
  }
});
