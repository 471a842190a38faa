// Creates the gateway's own table of stored answers on a database, once per process, retried after a failure.
import type { Databases } from '../db/createDatabases';

// One advisory lock key for it, so replicas starting together do not race on CREATE TABLE.
const LOCK = 7_362_514_002;

/** Through `db.transaction`, so creating it waits no longer for a connection than a call would (then 503). */
export function ensureIdempotencyTable(db: Databases): (database: string) => Promise<void> {
  const done = new Map<string, Promise<void>>();
  return (database) => {
    let ready = done.get(database);
    if (!ready) {
      ready = create(db, database);
      // A database that is down at start is retried on the next call rather than failing every call for ever.
      ready.catch(() => done.delete(database));
      done.set(database, ready);
    }
    return ready;
  };
}

async function create(db: Databases, database: string): Promise<void> {
  await db.transaction(database, { readOnly: false }, async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK})`;
    await tx`create table if not exists dbapi_idempotency (
      caller text not null,
      key text not null,
      action text not null,
      params_sha256 text not null,
      status int,
      body text,
      expires_at timestamptz not null,
      primary key (caller, key))`;
    await tx`create index if not exists dbapi_idempotency_expires_at on dbapi_idempotency (expires_at)`;
  });
}
