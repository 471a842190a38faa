// `npm run new-module`: the scaffolded module loads, is served, is listed in /openapi.json and works against PostgreSQL.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApp, ROOT, type TestApp } from './support/startTestApp';

// Inside the checkout, so the generated files resolve zod and lib/ as a real module folder does.
const work = mkdtempSync(join(ROOT, '.scaffold-test-'));
const modulesDir = join(work, 'modules');
let app: TestApp;

beforeAll(async () => {
  const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'scripts', 'new-module.ts'), 'gadget-box', '--dir', modulesDir], { encoding: 'utf8' });
  expect([run.status, run.stderr]).toEqual([0, '']);
  app = await startTestApp({ moduleDirs: [modulesDir] });
});
afterAll(async () => {
  await app?.close();
  rmSync(work, { recursive: true, force: true });
});

test('writes the route table, schema, SQL, a migration and a test', () => {
  for (const file of ['index.ts', 'schema.ts', 'sql.ts', 'migrations/001_gadget_box_items.sql', 'gadget-box.test.ts']) {
    expect([file, existsSync(join(modulesDir, 'gadget-box', file))]).toEqual([file, true]);
  }
});

test('the module is served and listed in /openapi.json', async () => {
  expect((await app.call('/gadget-box/put', { key: 'k', value: 'v' })).status).toBe(200);
  expect((await app.call('/gadget-box/list', {})).body).toEqual([{ key: 'k', value: 'v', updatedAt: expect.any(String) }]);
  const doc = (await app.call('/openapi.json', undefined, { method: 'GET', token: null })).body;
  expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/gadget-box/put', '/gadget-box/list']));
});

test('refuses a bad name and an existing folder', () => {
  const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
  expect(spawnSync(tsx, [join(ROOT, 'scripts', 'new-module.ts'), 'Bad Name', '--dir', modulesDir]).status).toBe(1);
  expect(spawnSync(tsx, [join(ROOT, 'scripts', 'new-module.ts'), 'gadget-box', '--dir', modulesDir]).status).toBe(1);
  const reserved = spawnSync(tsx, [join(ROOT, 'scripts', 'new-module.ts'), 'health', '--dir', modulesDir], { encoding: 'utf8' });
  expect([reserved.status, reserved.stderr]).toEqual([1, expect.stringMatching(/^new-module: "health" is reserved for the gateway's own paths/)]);
});
