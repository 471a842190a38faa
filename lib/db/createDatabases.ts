// Opens one postgres.js pool per configured database and offers transactions and health checks on them.
import postgres, { type Sql } from 'postgres';
import { pgTypes } from './pgTypes';
import { runTransaction, type TransactionOptions, type TransactionWork } from './runTransaction';
import { createSocketWatchdog, type SocketWatchdog } from './createSocketWatchdog';

export type { TransactionOptions, TransactionWork };

export interface DbOptions {
  poolMax: number;
  connectTimeoutMs: number;
  idleTimeoutS: number;
  statementTimeoutMs: number;
  prepare: boolean;
  /** Bounded wait for a free connection (and its BEGIN) before a call is answered 503. */
  acquireTimeoutMs: number;
  /** Bound on a started transaction as a whole: then 504 (rolled back) or 503 (commit unconfirmed). */
  transactionTimeoutMs: number;
  /** Most calls waiting for a connection per database (DB_MAX_WAITING); more are answered 503 at once. */
  maxWaiting?: number;
  /** A connection silent this long while it owes an answer has its network path probed (DB_PROBE_AFTER_MS; 0: never). */
  probeAfterMs?: number;
}

export interface Databases {
  readonly names: readonly string[];
  /** The pool itself: for migrations and tools, never handed to handlers. */
  pool(name: string): Sql;
  transaction<T>(name: string, options: TransactionOptions, fn: TransactionWork<T>): Promise<T>;
  /** Whether every database answers `select 1` within `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean>;
  end(): Promise<void>;
}

// How long the probe of a silent connection's path (a new TCP connection) may take: a reachable server accepts in
// well under a millisecond on a LAN, so a second without an answer means the path drops packets.
const PROBE_TIMEOUT_MS = 1_000;
// A commit this recent counts as the database answering, for /ready.
const RECENT_COMMIT_MS = 1_000;

export function connect(url: string, o: DbOptions, watchdog?: SocketWatchdog): Sql {
  return postgres(url, {
    max: o.poolMax,
    connect_timeout: Math.ceil(o.connectTimeoutMs / 1000),
    idle_timeout: o.idleTimeoutS || undefined,
    prepare: o.prepare,
    types: pgTypes,
    onnotice: () => {},
    // postgres.js's default backoff grows to 20 s after repeated failures; capped so a database that comes back is
    // used again within about half a second.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    // Our own sockets, watched for a path that went silent (see createSocketWatchdog).
    ...(watchdog && { socket: watchdog.socket }),
    connection: {
      application_name: 'dbapi',
      TimeZone: 'UTC',
      statement_timeout: o.statementTimeoutMs,
      // The server's side of DB_TRANSACTION_TIMEOUT_MS: a session left idle inside a transaction (its call answered,
      // its client gone quiet) is ended, so its locks, such as an Idempotency-Key's claim, cannot be held for ever.
      idle_in_transaction_session_timeout: o.transactionTimeoutMs,
    },
  }) as unknown as Sql;
}

export function createDatabases(urls: Record<string, string>, options: DbOptions): Databases {
  const watchdog = options.probeAfterMs ? createSocketWatchdog({ probeAfterMs: options.probeAfterMs, probeTimeoutMs: PROBE_TIMEOUT_MS }) : undefined;
  const pools = new Map(Object.entries(urls).map(([name, url]) => [name, connect(url, options, watchdog)]));
  // Each pool's calls, running or waiting for a connection, for DB_MAX_WAITING.
  const queues = new Map([...pools.keys()].map((name) => [name, { calls: 0 }]));
  // When each pool last committed a transaction: /ready takes that as an answer, so under load (when a `select 1`
  // would queue behind every waiting call) it answers at once.
  const committed = new Map([...pools.keys()].map((name) => [name, -Infinity]));
  const pool = (name: string) => {
    const sql = pools.get(name);
    if (!sql) throw new Error(`database "${name}" is not configured`);
    return sql;
  };
  return {
    names: [...pools.keys()],
    pool,
    transaction(name, o, fn) {
      return runTransaction(pool(name), {
        acquireTimeoutMs: options.acquireTimeoutMs, transactionTimeoutMs: options.transactionTimeoutMs,
        maxWaiting: options.maxWaiting, poolMax: options.poolMax, queue: queues.get(name),
      }, o, fn).then((value) => {
        committed.set(name, performance.now());
        return value;
      });
    },
    async ready(timeoutMs) {
      const now = performance.now();
      const checks = [...pools].map(([name, sql]) => now - committed.get(name)! < RECENT_COMMIT_MS || sql`select 1`.then(() => true, () => false));
      const timeout = new Promise<boolean>((r) => setTimeout(r, timeoutMs, false).unref());
      return (await Promise.race([Promise.all(checks).then((ok) => ok.every(Boolean)), timeout])) as boolean;
    },
    async end() {
      watchdog?.stop();
      await Promise.all([...pools.values()].map((sql) => sql.end({ timeout: 5 })));
    },
  };
}
