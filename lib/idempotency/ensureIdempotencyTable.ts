// Creates the gateway's own table of stored answers on a database, once per process, retried after a failure.
import type { Sql } from 'postgres';

// One advisory lock key for it, so replicas starting together do not race on CREATE TABLE.
const LOCK = 7_362_514_002;

export function ensureIdempotencyTable(): (sql: Sql) => Promise<void> {
  const done = new WeakMap<Sql, Promise<void>>();
  return (sql) => {
    let ready = done.get(sql);
    if (!ready) {
      ready = create(sql);
      // A database that is down at start is retried on the next call rather than failing every call for ever.
      ready.catch(() => done.delete(sql));
      done.set(sql, ready);
    }
    return ready;
  };
}

async function create(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
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
