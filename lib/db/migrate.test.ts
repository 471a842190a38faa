// Migrations: pending files in name order, once each, in their own transactions, safe when replicas race.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { createDatabases, type Databases } from './createDatabases';
import { migrate, MigrationError } from './migrate';
import type { LoadedModule } from '../modules/loadModules';
import { createTestDatabase, type TestDatabase } from '../../test/support/testDatabase';
import { ROOT } from '../../test/support/startTestApp';
import { scratchDir } from '../../test/support/scratchDir';

const log = pino({ level: 'silent' });
const dbOptions = { poolMax: 2, connectTimeoutMs: 5000, idleTimeoutS: 0, statementTimeoutMs: 10000, prepare: true, acquireTimeoutMs: 5000, transactionTimeoutMs: 30000 };

let t: TestDatabase;
let db: Databases;
beforeEach(async () => {
  t = await createTestDatabase();
  db = createDatabases({ default: t.url }, dbOptions);
});
afterEach(async () => {
  await db.end();
  await t.drop();
});

function moduleWith(files: Record<string, string>): LoadedModule {
  const dir = scratchDir('migrations');
  mkdirSync(join(dir, 'migrations'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, 'migrations', name), sql);
  return { name: 'm', dir, actions: [] };
}

test('applies pending files in name order, once, and records them', async () => {
  const m = moduleWith({
    '002_add.sql': 'insert into t (v) values (2);',
    '001_create.sql': 'create table t (n serial, v int); insert into t (v) values (1);',
    '010_more.sql': 'insert into t (v) values (10);',
  });
  expect(await migrate(db, [m], log)).toEqual(['m/001_create.sql', 'm/002_add.sql', 'm/010_more.sql']);
  expect(await migrate(db, [m], log)).toEqual([]);
  const rows = await db.pool('default')`select v from t order by n`;
  expect(rows.map((r) => r.v)).toEqual([1, 2, 10]);
  const recorded = await db.pool('default')`select module, name from dbapi_migrations order by name`;
  expect(recorded.map((r) => `${r.module}/${r.name}`)).toEqual(['m/001_create.sql', 'm/002_add.sql', 'm/010_more.sql']);
});

test('several replicas migrating at once apply each file exactly once', async () => {
  const m = moduleWith({ '001.sql': 'create table once (x int);', '002.sql': 'insert into once values (1);' });
  const replicas = Array.from({ length: 6 }, () => createDatabases({ default: t.url }, dbOptions));
  try {
    const applied = await Promise.all(replicas.map((r) => migrate(r, [m], log)));
    expect(applied.flat().sort()).toEqual(['m/001.sql', 'm/002.sql']);
    expect((await db.pool('default')`select count(*)::int as n from once`)[0].n).toBe(1);
  } finally {
    await Promise.all(replicas.map((r) => r.end()));
  }
});

test('a failing migration stops with its file name and PostgreSQL\'s message, and is rolled back whole', async () => {
  const m = moduleWith({ '001_ok.sql': 'create table ok (x int);', '002_bad.sql': 'create table half (x int); select * from missing_table;' });
  const error = await migrate(db, [m], log).catch((e) => e);
  expect(error).toBeInstanceOf(MigrationError);
  expect(error.message).toMatch(/002_bad\.sql failed: relation "missing_table" does not exist/);
  const [{ ok, half }] = await db.pool('default')`select to_regclass('ok') as ok, to_regclass('half') as half`;
  expect([ok, half]).toEqual(['ok', null]);
});

test('npm run migrate applies the project\'s migrations to DATABASE_URL', async () => {
  const { stdout } = await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'tsx'), ['src/migrate.ts'], {
    cwd: ROOT,
    env: { ...process.env, ENVIRONMENT: 'test', DATABASE_URL: t.url, LOG_FILE: '', LOG_LEVEL: 'info' },
  });
  expect(stdout).toContain('migration applied: example/001_users.sql');
  expect((await db.pool('default')`select to_regclass('users') as t`)[0].t).toBe('users');
});
