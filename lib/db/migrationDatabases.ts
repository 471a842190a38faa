// The databases migrations run on: the gateway's own pools, except `default` directly at MIGRATE_DATABASE_URL when set
// (when the gateway's pools go through PgBouncer, migrations can bypass it: see docs/DEPLOY.md for what needs that).
import type { Sql } from 'postgres';
import { connect, type Databases, type DbOptions } from './createDatabases';

export interface MigrationDatabases {
  db: Databases;
  /** Ends the direct pool, if one was opened. */
  end(): Promise<void>;
}

export function migrationDatabases(db: Databases, directUrl: string | undefined, o: DbOptions): MigrationDatabases {
  if (!directUrl) return { db, end: async () => {} };
  let direct: Sql | undefined;
  return {
    db: { ...db, pool: (name) => (name === 'default' ? (direct ??= connect(directUrl, { ...o, poolMax: 1 })) : db.pool(name)) },
    async end() {
      const sql = direct;
      direct = undefined;
      await sql?.end({ timeout: 5 });
    },
  };
}
