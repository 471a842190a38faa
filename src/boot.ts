// Brings up what the app depends on: the embedded database when no DATABASE_URL is set, the pools, the modules.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Settings } from './settings';
import { createDatabases, type Databases } from '../lib/db/createDatabases';
import { startEmbeddedPostgres } from '../lib/db/startEmbeddedPostgres';
import { loadModules, type LoadedModule } from '../lib/loadModules';
import { migrate } from '../lib/migrate';

export interface Booted {
  db: Databases;
  modules: LoadedModule[];
  /** Ends the pools, then stops the embedded database if one was started. */
  close(): Promise<void>;
}

export async function boot(settings: Settings, log: Logger, { migrateNow = settings.migrateOnStart } = {}): Promise<Booted> {
  const modules = loadModules(join(settings.root, 'modules'), Object.keys(settings.databases));
  const embedded = settings.embedded
    ? await startEmbeddedPostgres({ dir: settings.embedded.dir, onLog: (m) => log.debug({ postgres: { log: m.trim() } }, 'embedded postgres') })
    : undefined;
  if (embedded) log.info({ dir: settings.embedded!.dir }, 'embedded PostgreSQL started on loopback');
  const urls = { ...settings.databases, default: embedded?.url ?? settings.databases.default! } as Record<string, string>;
  const db = createDatabases(urls, settings.db);
  const close = async () => {
    await db.end();
    await embedded?.stop();
  };
  try {
    if (migrateNow) await migrate(db, modules, log);
  } catch (e) {
    await close();
    throw e;
  }
  return { db, modules, close };
}
