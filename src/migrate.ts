// `npm run migrate`: applies every module's pending migrations to the configured databases, then exits.
import { loadSettings, SettingsError } from './settings';
import { createLogger } from '../lib/createLogger';
import { boot } from './boot';

async function main() {
  const settings = loadSettings();
  const log = createLogger({ level: settings.log.level, file: settings.log.file });
  const { close } = await boot(settings, log, { migrateNow: true });
  await close();
  log.flush();
}

main().catch((e) => {
  const known = e instanceof SettingsError || ['ModuleError', 'MigrationError'].includes(e?.name);
  process.stderr.write(`dbapi migrate: ${known ? e.message : e?.stack ?? e}\n`);
  process.exit(1);
});
