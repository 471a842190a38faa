// The gateway as the fault suite runs it: the real app, serving modules/ plus the reliability test module.
import { join } from 'node:path';
import { loadSettings } from '../src/settings';
import { createApp } from '../src/app';
import { serve } from '../src/serve';
import { createLogger } from '../lib/createLogger';
import { createDatabases } from '../lib/db/createDatabases';
import { loadModules } from '../lib/loadModules';
import { migrate } from '../lib/migrate';

async function main() {
  const root = join(__dirname, '..');
  const settings = loadSettings(process.env, root);
  const log = createLogger({ level: settings.log.level, file: settings.log.file, stdout: false });
  const names = Object.keys(settings.databases);
  const modules = [join(root, 'modules'), join(root, 'test', 'fixtures', 'reliability')].flatMap((d) => loadModules(d, names));
  const db = createDatabases(settings.databases as Record<string, string>, settings.db);
  await migrate(db, modules, log);
  const app = createApp({ settings, db, log, modules });
  const serving = await serve(app, { draining: false }, { ...settings.http, host: '127.0.0.1', port: settings.port }, log);
  process.stdout.write(`listening ${serving.port}\n`);
  process.on('SIGTERM', async () => {
    await serving.drain();
    await db.end();
    process.exit(0);
  });
}

main().catch((e) => {
  process.stderr.write(`fault gateway: ${e?.stack ?? e}\n`);
  process.exit(1);
});
