// Applies the modules' pending SQL migrations in order, each once, each in its own transaction, safe across replicas.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import type { Databases } from './createDatabases';
import type { LoadedModule } from '../modules/loadModules';

export class MigrationError extends Error {
  name = 'MigrationError';
}

interface Migration {
  module: string;
  name: string;
  file: string;
  database: string;
}

// One advisory lock key for all migration work: replicas running `migrate` at once take turns.
const LOCK = 7_362_514_001;

/** `migrations/*.sql` run on the `default` database, `migrations/<database>/*.sql` on that named one. */
export function findMigrations(modules: readonly LoadedModule[]): Migration[] {
  const found: Migration[] = [];
  for (const m of modules) {
    const dir = join(m.dir, 'migrations');
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isFile() && entry.name.endsWith('.sql')) {
        found.push({ module: m.name, name: entry.name, file: join(dir, entry.name), database: 'default' });
      } else if (entry.isDirectory()) {
        for (const f of readdirSync(join(dir, entry.name)).filter((f) => f.endsWith('.sql')).sort()) {
          found.push({ module: m.name, name: `${entry.name}/${f}`, file: join(dir, entry.name, f), database: entry.name });
        }
      }
    }
  }
  return found;
}

/** Applies what is pending; returns the names applied. */
export async function migrate(db: Databases, modules: readonly LoadedModule[], log: Logger): Promise<string[]> {
  const all = findMigrations(modules);
  const missing = all.find((m) => !db.names.includes(m.database));
  if (missing) {
    throw new MigrationError(`${relative(process.cwd(), missing.file)}: database "${missing.database}" is not configured (DATABASE_URL_${missing.database.toUpperCase()})`);
  }
  const applied: string[] = [];
  for (const database of new Set(all.map((m) => m.database))) {
    const done = await appliedOn(db.pool(database)).catch((e) => {
      throw new MigrationError(`migrations on database "${database}" cannot start: ${(e as Error).message}`, { cause: e });
    });
    // Only what another replica has not applied yet is read and run; each is checked again under the lock.
    for (const m of all.filter((m) => m.database === database && !done.has(`${m.module}/${m.name}`))) {
      if (await applyOne(db.pool(database), m)) {
        applied.push(`${m.module}/${m.name}`);
        log.info({ migration: { module: m.module, name: m.name, database } }, `migration applied: ${m.module}/${m.name}`);
      }
    }
  }
  return applied;
}

/** Creates the record table if needed and reads what it holds, once per database. */
async function appliedOn(sql: Sql): Promise<Set<string>> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK})`;
    await tx`create table if not exists dbapi_migrations (
      module text not null, name text not null, applied_at timestamptz not null default now(),
      primary key (module, name))`;
  });
  const rows = await sql<{ module: string; name: string }[]>`select module, name from dbapi_migrations`;
  return new Set(rows.map((r) => `${r.module}/${r.name}`));
}

/** Runs one file in its own transaction under the lock, unless a replica applied it meanwhile. */
async function applyOne(sql: Sql, m: Migration): Promise<boolean> {
  try {
    return await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LOCK})`;
      const [done] = await tx`select 1 from dbapi_migrations where module = ${m.module} and name = ${m.name}`;
      if (done) return false;
      await tx.unsafe(readFileSync(m.file, 'utf8')); // the file's own SQL, several statements allowed
      await tx`insert into dbapi_migrations (module, name) values (${m.module}, ${m.name})`;
      return true;
    });
  } catch (e) {
    throw new MigrationError(`migration ${relative(process.cwd(), m.file)} failed: ${(e as Error).message}`, { cause: e });
  }
}
