// Runs work in a transaction on one database; with `rollback` (a dry run) it answers the work's value but commits nothing.
import type { TransactionSql } from 'postgres';
import type { Databases } from './db/createDatabases';

export interface RunOptions {
  readOnly: boolean;
  /** Roll back even when the work succeeds. */
  rollback: boolean;
}

/** Thrown inside the transaction only to make postgres.js roll it back; carries the value out. */
class Rollback {
  value: unknown;
}

export async function runTransaction<T>(db: Databases, database: string, { readOnly, rollback }: RunOptions, work: (tx: TransactionSql) => Promise<T>): Promise<T> {
  if (!rollback) return db.transaction(database, { readOnly }, work);
  const signal = new Rollback();
  try {
    await db.transaction(database, { readOnly }, async (tx) => {
      signal.value = await work(tx);
      throw signal;
    });
  } catch (e) {
    if (e === signal) return signal.value as T;
    throw e;
  }
  throw new Error('unreachable: a dry-run transaction committed');
}
