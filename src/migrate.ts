// `npm run migrate`: applies every module's pending migrations to the configured databases, then exits.
import { loadSettings } from './settings';
import { failStart } from './failStart';
import { createLogger } from '../lib/log/createLogger';
import { boot } from './boot';

async function main() {
  const settings = loadSettings();
  const log = createLogger({ level: settings.log.level, file: settings.log.file });
  const { close } = await boot(settings, log, { migrateNow: true });
  await close();
  log.flush();
}

main().catch(failStart('dbapi migrate'));
