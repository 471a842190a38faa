// Settings: defaults, .env file under real variables, X_FILE secrets, one clear line for a bad value, frozen.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings } from './settings';
import { project, failure } from '../test/support/settingsProject';

test('defaults: local, 0.0.0.0:8000, embedded database, info logs to logs/dbapi.log', () => {
  const root = project();
  const s = loadSettings({}, root);
  expect([s.environment, s.host, s.port, s.log.level, s.log.file]).toEqual(['local', '0.0.0.0', 8000, 'info', join(root, 'logs', 'dbapi.log')]);
  expect(s.databases).toEqual({ default: undefined });
  expect(s.embedded).toEqual({ dir: join(root, '.data', 'postgres') });
  expect(s.migrateOnStart).toBe(true);
  expect(s.body.limitBytes).toBe(1024 * 1024);
});

test('the environment picks env/<ENVIRONMENT>/.env, and real variables win over it', () => {
  const root = project({ staging: 'PORT=9001\nLOG_LEVEL=debug\nBEARER=from-file-token-0123456789\n' });
  const s = loadSettings({ ENVIRONMENT: 'staging', LOG_LEVEL: 'warn' }, root);
  expect([s.port, s.log.level, s.callers.length]).toEqual([9001, 'warn', 1]);
});

test('DATABASE_URL and DATABASE_URL_<NAME> become named databases; migrations do not run at start by default', () => {
  const s = loadSettings({ DATABASE_URL: 'postgres://a@h/db', DATABASE_URL_REPORTS: 'postgresql://b@h/r' }, project());
  expect(s.databases).toEqual({ default: 'postgres://a@h/db', reports: 'postgresql://b@h/r' });
  expect([s.embedded, s.migrateOnStart]).toEqual([undefined, false]);
});

test('X_FILE gives a secret from a file (as Docker secrets do)', () => {
  const root = project();
  writeFileSync(join(root, 'token'), 'file-token-0123456789abcdef\n');
  writeFileSync(join(root, 'db'), 'postgres://u:secret@db/app\n');
  const s = loadSettings({ BEARER_FILE: join(root, 'token'), DATABASE_URL_FILE: join(root, 'db') }, root);
  expect(s.callers.map((c) => c.name)).toEqual(['default']);
  expect(s.databases.default).toBe('postgres://u:secret@db/app');
});

test('DATABASE_URL_<NAME>_FILE gives a named database from a file', () => {
  const root = project();
  writeFileSync(join(root, 'reports'), 'postgres://u:secret@db/reports\n');
  const s = loadSettings({ DATABASE_URL: 'postgres://a@h/db', DATABASE_URL_REPORTS_FILE: join(root, 'reports') }, root);
  expect(s.databases).toEqual({ default: 'postgres://a@h/db', reports: 'postgres://u:secret@db/reports' });
});

test('a token that could never pass as a bearer token is refused at start, not at every call', () => {
  expect(failure({ BEARER: 'S3cret!token#2024$abc' })).toMatch(/^Invalid setting BEARER: letters, digits/);
  expect(failure({ CALLERS: JSON.stringify([{ name: 'a', tokens: ['has spaces in it 0123456789'], allow: ['*'] }]) })).toMatch(/^Invalid setting CALLERS at 0\.tokens\.0: letters, digits/);
});

test('a bad value stops the start with one line naming the setting', () => {
  expect(failure({ PORT: 'eighty' })).toMatch(/^Invalid setting PORT: /);
  expect(failure({ PORT: '70000' })).toMatch(/^Invalid setting PORT: /);
  expect(failure({ PORT: 'abc' })).toBe('Invalid setting PORT: must be a whole number between 0 and 65535'); // not "received NaN"
  expect(failure({ LOG_LEVEL: 'loud' })).toMatch(/^Invalid setting LOG_LEVEL: /);
  expect(failure({ DATABASE_URL: 'mysql://x' })).toMatch(/^Invalid setting DATABASE_URL: /);
  expect(failure({ DATABASE_URL_OTHER: 'nope' })).toMatch(/^Invalid setting DATABASE_URL_OTHER: /);
  expect(failure({ BEARER_FILE: '/no/such/file' })).toMatch(/^Invalid setting BEARER_FILE: /);
  for (const m of [failure({ PORT: 'x' }), failure({ CALLERS: '[{' })]) expect(m.split('\n')).toHaveLength(1);
});

test('a bad secret is named but never printed', () => {
  const message = failure({ BEARER: 'short secret' });
  expect(message).toMatch(/^Invalid setting BEARER: /);
  expect(message).not.toContain('short secret');
  const callers = failure({ CALLERS: '[{"name":"x","tokens":["tiny-secret"],"allow":["*"]}]' });
  expect(callers).toMatch(/^Invalid setting CALLERS/);
  expect(callers).not.toContain('tiny-secret');
  const url = failure({ DATABASE_URL_X: 'mysql://user:hunter2@h/db' });
  expect(url).not.toContain('hunter2');
});

test('no token: refused outside local and test', () => {
  expect(failure({ ENVIRONMENT: 'production' })).toMatch(/^Invalid setting BEARER: no token is configured/);
  expect(loadSettings({ ENVIRONMENT: 'test' }, project()).callers).toEqual([]);
  expect(loadSettings({ ENVIRONMENT: 'local' }, project()).callers).toEqual([]);
});

test('CALLERS: names, tokens or their SHA-256, allow patterns; duplicate names refused', () => {
  const s = loadSettings({
    CALLERS: JSON.stringify([
      { name: 'billing', tokens: ['billing-token-0123456789', 'billing-token-rotated-01'], allow: ['example/*'] },
      { name: 'ops', tokenSha256: ['a'.repeat(64)], allow: ['*'] },
    ]),
  }, project());
  expect(s.callers.map((c) => [c.name, c.tokenHashes.length, c.allow])).toEqual([['billing', 2, ['example/*']], ['ops', 1, ['*']]]);
  expect(failure({ CALLERS: JSON.stringify([{ name: 'a', tokens: ['x'.repeat(20)], allow: ['*'] }, { name: 'a', tokens: ['y'.repeat(20)], allow: ['*'] }]) })).toMatch(/appears twice/);
  expect(failure({ CALLERS: JSON.stringify([{ name: 'a', tokens: ['x'.repeat(20)], allow: ['example/**'] }]) })).toMatch(/^Invalid setting CALLERS/);
});

test('settings are frozen', () => {
  const s = loadSettings({}, project());
  expect(Object.isFrozen(s) && Object.isFrozen(s.db) && Object.isFrozen(s.callers)).toBe(true);
});

test('overload settings: DB_MAX_WAITING, CALLER_MAX_CONCURRENT, DB_PROBE_AFTER_MS, and a caller\'s maxConcurrent', () => {
  const defaults = loadSettings({}, project());
  expect([defaults.db.maxWaiting, defaults.callerMaxConcurrent, defaults.db.probeAfterMs]).toEqual([500, 0, 2000]);
  const token = 'caller-token-0123456789abcdef';
  const s = loadSettings({
    DB_MAX_WAITING: '5', CALLER_MAX_CONCURRENT: '8', DB_PROBE_AFTER_MS: '0',
    CALLERS: JSON.stringify([{ name: 'a', tokens: [token], allow: ['*'], maxConcurrent: 2 }, { name: 'b', tokens: [`${token}x`], allow: ['*'] }]),
  }, project());
  expect([s.db.maxWaiting, s.callerMaxConcurrent, s.db.probeAfterMs]).toEqual([5, 8, 0]);
  expect(s.callers.map((c) => c.maxConcurrent)).toEqual([2, undefined]);
  expect(failure({ DB_MAX_WAITING: '0' })).toMatch(/^Invalid setting DB_MAX_WAITING: /);
  expect(failure({ CALLERS: JSON.stringify([{ name: 'a', tokens: [token], allow: ['*'], maxConcurrent: -1 }]) })).toMatch(/^Invalid setting CALLERS at 0\.maxConcurrent: /);
});

test('DATABASE_URL_REPLICAS and DATABASE_URL_<NAME>_REPLICAS add read replicas (comma-separated, _FILE too), not databases', () => {
  const root = project();
  writeFileSync(join(root, 'replicas'), 'postgres://r3/x\n');
  const s = loadSettings({
    DATABASE_URL: 'postgres://p/x', DATABASE_URL_REPLICAS: 'postgres://r1/x, postgres://r2/x', DATABASE_URL_SALES: 'postgres://s/x',
    DATABASE_URL_SALES_REPLICAS_FILE: 'replicas', DB_REPLICA_MAX_LAG_MS: '800',
  }, root);
  expect(s.databases).toEqual({ default: 'postgres://p/x', sales: 'postgres://s/x' });
  expect(s.replicas).toEqual({ default: ['postgres://r1/x', 'postgres://r2/x'], sales: ['postgres://r3/x'] });
  expect([s.db.replicaMaxLagMs, s.db.replicaCheckMs]).toEqual([800, 1000]);
  writeFileSync(join(root, 'migrate'), 'postgres://direct/x\n');
  expect(loadSettings({ DATABASE_URL: 'postgres://p/x', MIGRATE_DATABASE_URL_FILE: 'migrate' }, root).migrateDatabaseUrl).toBe('postgres://direct/x');
  expect(failure({ DATABASE_URL: 'postgres://p/x', DATABASE_URL_OTHER_REPLICAS: 'postgres://r/x' })).toMatch(/^Invalid setting DATABASE_URL_OTHER_REPLICAS: no database "other"/);
  expect(failure({ DATABASE_URL: 'postgres://p/x', DATABASE_URL_REPLICAS: 'mysql://r/x' })).toMatch(/^Invalid setting DATABASE_URL_REPLICAS: must be/);
});
