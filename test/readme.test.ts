// The README as a new user reads it from a fresh clone: its links stay inside the repository, the quick start says how
// to change the port, where the docs are and what `npm test` needs, and every `npm run <script>` it names exists.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './support/startTestApp';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const quickStart = readme.slice(0, readme.indexOf('\n## '));

test('every relative link points to a file inside the repository', () => {
  const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
  for (const link of links) {
    const target = resolve(ROOT, link);
    expect([link, target.startsWith(`${ROOT}/`) && existsSync(target)]).toEqual([link, true]);
  }
});

test('the quick start says how to change the port, where the docs are, and what else npm test needs', () => {
  expect(quickStart).toMatch(/PORT=\d+ npm start/);
  expect(quickStart).toMatch(/\/docs/);
  expect(quickStart).toMatch(/npm test[^\n]*\n[^\n]*nginx, pgbouncer and PostgreSQL/);
});

test('every npm script the README names exists', () => {
  const scripts = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts);
  const named = new Set([...readme.matchAll(/npm run (?:-s )?([a-z:-]+)/g)].map((m) => m[1]));
  for (const name of named) expect([name, scripts.includes(name)]).toEqual([name, true]);
});
