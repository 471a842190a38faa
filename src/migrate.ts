// `npm run migrate`: applies every module's pending migrations to the configured databases, says what it applied
// (or that nothing was pending), then exits. The JSON log lines go to LOG_FILE; the terminal gets plain lines.
import { loadSettings } from './settings';
import { failStart } from './failStart';
import { createLogger } from '../lib/log/createLogger';
import { migrate } from '../lib/db/migrate';
import { boot } from './boot';

async function main() {
  const settings = loadSettings();
  const log = createLogger({ level: settings.log.level, file: settings.log.file, stdout: !settings.log.file });
  const { db, modules, close } = await boot(settings, log, { migrateNow: false });
  try {
    const applied = await migrate(db, modules, log);
    const names = Object.keys(settings.databases).filter((n) => n === 'default' || settings.databases[n]);
    process.stdout.write(applied.length > 0
      ? applied.map((m) => `dbapi migrate: applied ${m}\n`).join('')
      : `dbapi migrate: nothing pending (database${names.length > 1 ? 's' : ''} ${names.join(', ')} up to date)\n`);
  } finally {
    await close();
    await log.flushPending();
  }
}

main().catch(failStart('dbapi migrate'));
