// Brings up what the app depends on: the embedded database when no DATABASE_URL is set, the pools, the modules and
// their migrations. startGateway (a running gateway) and `npm run migrate` (migrations only) build on it.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Settings } from './settings';
import type { Lifecycle } from '../lib/http/Lifecycle';
import { createDatabases, type Databases } from '../lib/db/createDatabases';
import { startEmbeddedPostgres } from '../lib/db/startEmbeddedPostgres';
import { loadModules, ModuleError, type LoadedModule } from '../lib/modules/loadModules';
import { migrate } from '../lib/db/migrate';
import { migrationDatabases } from '../lib/db/migrationDatabases';
import { toApiError } from '../lib/errors/toApiError';

export interface Booted {
  db: Databases;
  modules: LoadedModule[];
  /** Ends the pools, then stops the embedded database if one was started. */
  close(): Promise<void>;
}

export interface BootOptions {
  migrateNow?: boolean;
  /** Where modules are found; default: `modules/` of the project. */
  moduleDirs?: readonly string[];
  /**
   * When given, a database that is unreachable at start does not stop the start: migrations are retried in the
   * background and `lifecycle.migrating` keeps /ready at 503 until they are done. (`npm run migrate` fails instead.)
   */
  lifecycle?: Lifecycle;
}

const MIGRATION_RETRY_MS = 1_000;

export async function boot(settings: Settings, log: Logger, o: BootOptions = {}): Promise<Booted> {
  const { migrateNow = settings.migrateOnStart, lifecycle, moduleDirs = [join(settings.root, 'modules')] } = o;
  const modules = moduleDirs.flatMap((dir) => loadModules(dir, Object.keys(settings.databases)));
  const twice = modules.find((m, i) => modules.findIndex((other) => other.name === m.name) !== i);
  if (twice) throw new ModuleError(`module "${twice.name}" is defined twice (${modules.filter((m) => m.name === twice.name).map((m) => m.dir).join(', ')})`);
  const embedded = settings.embedded
    ? await startEmbeddedPostgres({
      dir: settings.embedded.dir,
      onLog: (m) => log.debug({ postgres: { log: m.trim() } }, 'embedded postgres'),
      // Stopped from outside (a kill, an older dbapi in the same checkout): calls answer 503 from now on; say why.
      onLost: (pid) => log.error({ postgres: { pid }, dir: settings.embedded!.dir }, `the embedded PostgreSQL (pid ${pid}) stopped from outside this gateway: calls answer 503 until the gateway is restarted`),
    })
    : undefined;
  if (embedded?.shared) log.info({ dir: settings.embedded!.dir, postgres: { pid: embedded.pid } }, 'embedded PostgreSQL already running for this checkout: sharing it (it stops when its last user does)');
  else if (embedded) log.info({ dir: settings.embedded!.dir, postgres: { pid: embedded.pid } }, 'embedded PostgreSQL started on loopback');
  const urls = { ...settings.databases, default: embedded?.url ?? settings.databases.default! } as Record<string, string>;
  const db = createDatabases(urls, settings.db, settings.replicas);
  const migrations = migrationDatabases(db, settings.migrateDatabaseUrl, settings.db); // MIGRATE_DATABASE_URL: direct
  let closed = false;
  const close = async () => {
    closed = true;
    await migrations.end();
    await db.end();
    await embedded?.stop();
  };
  if (!migrateNow) return { db, modules, close };
  try {
    await migrate(migrations.db, modules, log);
    await migrations.end();
  } catch (e) {
    if (!lifecycle || !isUnreachable(e)) {
      await close();
      throw e;
    }
    log.warn({ error: { message: (e as Error).message } }, 'database unreachable at start: migrations will be retried; not ready until then');
    lifecycle.migrating = true;
    void (async () => {
      for (let wait = MIGRATION_RETRY_MS; ; ) {
        await new Promise((r) => setTimeout(r, wait));
        if (closed) return;
        try {
          await migrate(migrations.db, modules, log);
          await migrations.end();
          lifecycle.migrating = false;
          log.info('migrations done: ready');
          return;
        } catch (again) {
          if (isUnreachable(again)) continue;
          // A broken migration (not an outage) keeps the replica unready; the log line says which file and why,
          // less and less often.
          log.error({ error: { message: (again as Error).message } }, 'migration failed');
          wait = Math.min(wait * 2, 60_000);
        }
      }
    })();
  }
  return { db, modules, close };
}

function isUnreachable(e: unknown): boolean {
  return toApiError((e as { cause?: unknown }).cause ?? e).code === 'unavailable';
}
