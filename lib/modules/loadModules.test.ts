// The module loader: a folder is a module, names are checked at start, and a new folder is served with no other edit.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModules, ModuleError } from './loadModules';
import { ROOT } from '../../test/support/startTestApp';
import { scratchDir } from '../../test/support/scratchDir';


function modulesDir(modules: Record<string, string>): string {
  const dir = scratchDir('modules'); // inside the checkout, so the modules resolve zod
  for (const [name, source] of Object.entries(modules)) {
    mkdirSync(join(dir, name), { recursive: true });
    if (source) writeFileSync(join(dir, name, 'index.ts'), source);
  }
  return dir;
}

const table = (body: string) => `import { z } from 'zod';\nimport { action } from '#dbapi';\nexport default { ${body} };\n`;

test('every folder becomes a module; the action "" is its root', () => {
  const dir = modulesDir({ things: table(`'': action({ handler: () => 1 }), list: action({ readOnly: true, handler: () => [] })`) });
  const [m] = loadModules(dir, ['default']);
  expect(m.actions.map((a) => [a.id, a.path, a.database, a.needs.readOnly])).toEqual([
    ['things', '/things', 'default', false],
    ['things/list', '/things/list', 'default', true],
  ]);
});

test.each([
  ['a module name with capitals', { Things: table(`a: action({ handler: () => 1 })`) }, /modules\/Things: module names/],
  ['a module name with a dot', { 'my.mod': table(`a: action({ handler: () => 1 })`) }, /modules\/my\.mod: module names/],
  ['a reserved module name', { health: table(`a: action({ handler: () => 1 })`) }, /modules\/health: module names/],
  ['an action name with a slash', { m: table(`'a/b': action({ handler: () => 1 })`) }, /action "a\/b" must be/],
  ['an action name with capitals', { m: table(`Get: action({ handler: () => 1 })`) }, /action "Get" must be/],
  ['an action without a handler', { m: table(`a: {} as any`) }, /m\/a: an action needs a handler/],
  ['params that are not a zod schema', { m: table(`a: action({ params: {} as any, handler: () => 1 })`) }, /m\/a: params must be a zod schema/],
  ['an unknown database', { m: table(`a: action({ database: 'reports', handler: () => 1 })`) }, /m\/a: uses database "reports".*DATABASE_URL_REPORTS/],
  ['a folder without index.ts', { empty: '' }, /modules\/empty: has no index.ts/],
  ['no route table exported', { m: `export const x = 1;\n` }, /must export its route table/],
  ['an example its params refuse', { m: table(`a: action({ params: z.object({ email: z.email() }), example: { email: 'x' }, handler: () => 1 })`) }, /m\/a: its example does not match its params schema \(email: Invalid email address\)/],
  ['a module that throws when imported', { m: `const a = 1;\nthrow new Error('no config');\n` }, /^modules\/m: cannot be loaded: \S*\/m\/index\.ts:2:7: no config$/],
])('%s stops the start with a clear message', (_name, modules, message) => {
  const dir = modulesDir(modules as Record<string, string>);
  expect(() => loadModules(dir, ['default'])).toThrow(ModuleError);
  expect(() => loadModules(dir, ['default'])).toThrow(message);
});

test('object params become strict: unknown fields are rejected', () => {
  const dir = modulesDir({ m: table(`a: action({ params: z.object({ x: z.number() }), handler: () => 1 })`) });
  const [{ actions: [a] }] = loadModules(dir, ['default']);
  expect(a.params.safeParse({ x: 1 }).success).toBe(true);
  expect(a.params.safeParse({ x: 1, y: 2 }).success).toBe(false);
});

test('the same module name in two module folders stops the start', async () => {
  const { boot } = await import('../../src/boot');
  const { loadSettings } = await import('../../src/settings');
  const pino = (await import('pino')).default;
  const a = modulesDir({ twin: table(`a: action({ handler: () => 1 })`) });
  const b = modulesDir({ twin: table(`b: action({ handler: () => 2 })`) });
  const settings = loadSettings({ ENVIRONMENT: 'test', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', LOG_FILE: '' }, ROOT);
  await expect(boot(settings, pino({ level: 'silent' }), { migrateNow: false, moduleDirs: [a, b] })).rejects.toThrow(/module "twin" is defined twice/);
});
