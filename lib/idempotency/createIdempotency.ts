// Exactly-once calls: an Idempotency-Key's first answer is stored in the call's own transaction and replayed after.
import stringify from 'safe-stable-stringify';
import type { Consistency, Databases, TransactionOptions } from '../db/createDatabases';
import type { Tx } from '../db/Tx';
import { ApiError } from '../errors/ApiError';
import { ensureIdempotencyTable } from './ensureIdempotencyTable';
import { sha256 } from '../auth/sha256';

export interface StoredAnswer {
  status: number;
  /** The JSON text of the answer. */
  body: string;
  replayed: boolean;
}

export interface IdempotentCall {
  database: string;
  caller: string;
  key: string;
  action: string;
  params: unknown;
  options: TransactionOptions;
  /** Runs the handler in the transaction and returns the JSON text to answer. */
  run(tx: Tx): Promise<string>;
  /** Read-your-writes: set to the commit's LSN (Dbapi-Lsn) where the database has replicas. */
  consistency?: Consistency;
}

export interface Idempotency {
  call(c: IdempotentCall): Promise<StoredAnswer>;
  /** Deletes expired answers; returns how many. */
  sweep(database: string): Promise<number>;
}

// Printable ASCII, as Stripe's keys and UUIDs are; long enough for any client's scheme.
const SWEEP_EVERY_MS = 60_000;
const KEY = /^[\x21-\x7e]{1,255}$/;

export function checkIdempotencyKey(key: string): string {
  if (!KEY.test(key)) {
    throw new ApiError('invalid_params', { message: 'Idempotency-Key must be 1 to 255 printable ASCII characters', details: [{ path: 'Idempotency-Key', message: 'invalid header' }] });
  }
  return key;
}

export function createIdempotency({ db, ttlS }: { db: Databases; ttlS: number }): Idempotency {
  const ensure = ensureIdempotencyTable(db);
  const lastSweep = new Map<string, number>();
  const self: Idempotency = {
    async call({ database, caller, key, action, params, options, run, consistency }) {
      await ensure(database);
      // Expired answers are swept now and then on the side; a failed sweep is simply tried again later.
      if (Date.now() - (lastSweep.get(database) ?? 0) > SWEEP_EVERY_MS) {
        lastSweep.set(database, Date.now());
        self.sweep(database).catch(() => lastSweep.delete(database));
      }
      // Params compared by a digest of their canonical JSON: key order does not matter, values do.
      const digest = sha256(stringify(params) ?? 'null').toString('hex');
      // A caller's role (SET LOCAL ROLE) is taken only around its handler: the stored answers are the gateway's,
      // and the role needs no grants on them. Both switches travel with the next statement (no extra round trip).
      const role = options.settings?.role;
      const { role: _role, ...settings } = options.settings ?? {};
      return db.transaction(database, role ? { ...options, settings } : options, async (tx) => {
        // The claim: a concurrent duplicate blocks on this row's unique key until the first call commits (then it
        // replays) or rolls back (then it runs). An expired answer is taken over as if absent.
        const [claimed] = await tx`
          insert into dbapi_idempotency (caller, key, action, params_sha256, expires_at)
          values (${caller}, ${key}, ${action}, ${digest}, now() + make_interval(secs => ${ttlS}))
          on conflict (caller, key) do update
            set action = excluded.action, params_sha256 = excluded.params_sha256, status = null, body = null,
                expires_at = excluded.expires_at
            where dbapi_idempotency.expires_at < now()
          returning 1 as claimed`;
        if (!claimed) {
          const [stored] = await tx<{ action: string; params_sha256: string; status: number; body: string }[]>`
            select action, params_sha256, status, body from dbapi_idempotency where caller = ${caller} and key = ${key}`;
          if (stored.action !== action || digest !== stored.params_sha256) throw new ApiError('idempotency_mismatch');
          return { status: stored.status, body: stored.body, replayed: true };
        }
        const asRole = role ? quiet(tx`select set_config('role', ${role}, true)`.execute()) : undefined;
        // A failed switch aborts the transaction: its own error (an unknown role) is the one to answer.
        const body = await run(tx).catch(async (e) => {
          await asRole;
          throw e;
        });
        await asRole;
        const unrole = role ? quiet(tx`select set_config('role', 'none', true)`.execute()) : undefined;
        await tx`update dbapi_idempotency set status = 200, body = ${body} where caller = ${caller} and key = ${key}`;
        await unrole;
        return { status: 200, body, replayed: false };
      }, consistency);
    },
    async sweep(database) {
      const sql = db.pool(database);
      await ensure(database);
      const rows = await sql`delete from dbapi_idempotency where expires_at < now()`;
      return rows.count;
    },
  };
  return self;
}

/** The same promise, marked handled: it is awaited later, after the statements pipelined behind it. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
