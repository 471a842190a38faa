// The gateway as the fault suite runs it: the real app, serving modules/ plus the reliability test module.
import { join } from 'node:path';
import { loadSettings } from '../src/settings';
import { createApp } from '../src/app';
import { serve } from '../src/serve';
import { boot } from '../src/boot';
import { createLogger } from '../lib/createLogger';

async function main() {
  const root = join(__dirname, '..');
  const settings = loadSettings(process.env, root);
  const log = createLogger({ level: settings.log.level, file: settings.log.file, stdout: false });
  const { db, modules, close } = await boot(settings, log, { migrateNow: true, moduleDirs: [join(root, 'modules'), join(root, 'test', 'fixtures', 'reliability')] });
  const lifecycle = { draining: false };
  const app = createApp({ settings, db, log, modules, lifecycle });
  const serving = await serve(app, lifecycle, { ...settings.http, host: '127.0.0.1', port: settings.port }, log);
  process.stdout.write(`listening ${serving.port}\n`);
  process.on('SIGTERM', async () => {
    await serving.drain();
    await close();
    process.exit(0);
  });
}

main().catch((e) => {
  process.stderr.write(`fault gateway: ${e?.stack ?? e}\n`);
  process.exit(1);
});
