// The development token of env/local/.env on a running gateway: valid and announced in the start-up log while it is the
// only caller, refused (401) as soon as CALLERS is configured with ENVIRONMENT left at its default.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../src/settings';
import { startGateway } from '../src/startGateway';
import { createTestDatabase } from './support/testDatabase';
import { ROOT } from './support/startTestApp';

const DEV = 'dev-token-0123456789abcdef';

async function gateway(extra: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), 'dbapi-dev-'));
  mkdirSync(join(root, 'env', 'local'), { recursive: true });
  writeFileSync(join(root, 'env', 'local', '.env'), `BEARER=${DEV}\n`);
  const db = await createTestDatabase(); // SHUTDOWN_TIMEOUT_MS below: fetch keeps its connections open, no nginx closes them
  const logs: Array<Record<string, any>> = [];
  const g = await startGateway(loadSettings({ DATABASE_URL: db.url, LOG_FILE: '', SHUTDOWN_TIMEOUT_MS: '200', ...extra }, root), {
    moduleDirs: [join(ROOT, 'modules')], logStreams: [{ write: (l: string) => void logs.push(JSON.parse(l)) }],
    stdout: false, listen: { host: '127.0.0.1', port: 0 }, migrateNow: true,
  });
  const status = async (token: string) => (await fetch(`${g.url}/example/foo`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"name":"a"}' })).status;
  return { logs, status, close: async () => { await g.stop(); await db.drop(); } };
}

test('alone, the development token works and the start-up log says it is active', async () => {
  const g = await gateway({});
  try {
    expect(await g.status(DEV)).toBe(200);
    expect(g.logs.filter((l) => /development token .* is active/.test(l.message)).map((l) => l['log.level'])).toEqual(['warn']);
  } finally {
    await g.close();
  }
});

test('beside CALLERS (ENVIRONMENT left at local), the development token is refused', async () => {
  const g = await gateway({ CALLERS: JSON.stringify([{ name: 'billing', tokens: ['billing-token-0123456789'], allow: ['*'] }]) });
  try {
    expect([await g.status(DEV), await g.status('billing-token-0123456789')]).toEqual([401, 200]);
    expect(g.logs.some((l) => /development token/.test(l.message))).toBe(false);
  } finally {
    await g.close();
  }
});
