// Applies the modules' pending SQL migrations in order, each once, each in its own transaction, safe across replicas.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Logger } from 'pino';
import type { Databases } from './db/createDatabases';
import type { LoadedModule } from './loadModules';

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
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
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
  const applied: string[] = [];
  for (const m of findMigrations(modules)) {
    if (!db.names.includes(m.database)) {
      throw new MigrationError(`${relative(process.cwd(), m.file)}: database "${m.database}" is not configured (DATABASE_URL_${m.database.toUpperCase()})`);
    }
    const text = readFileSync(m.file, 'utf8');
    try {
      const ran = await db.pool(m.database).begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${LOCK})`;
        await tx`create table if not exists dbapi_migrations (
          module text not null, name text not null, applied_at timestamptz not null default now(),
          primary key (module, name))`;
        const [done] = await tx`select 1 from dbapi_migrations where module = ${m.module} and name = ${m.name}`;
        if (done) return false;
        await tx.unsafe(text); // the file's own SQL, several statements allowed
        await tx`insert into dbapi_migrations (module, name) values (${m.module}, ${m.name})`;
        return true;
      });
      if (ran) {
        applied.push(`${m.module}/${m.name}`);
        log.info({ migration: { module: m.module, name: m.name, database: m.database } }, `migration applied: ${m.module}/${m.name}`);
      }
    } catch (e) {
      throw new MigrationError(`migration ${relative(process.cwd(), m.file)} failed: ${(e as Error).message}`, { cause: e });
    }
  }
  return applied;
}
