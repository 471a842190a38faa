// Opens one postgres.js pool per configured database and offers transactions and health checks on them.
import postgres, { type Sql } from 'postgres';
import { pgTypes } from './pgTypes';
import { runTransaction, ReplicaBehindError, type Consistency, type TransactionCounts, type TransactionLimits, type TransactionDeadline, type TransactionOptions, type TransactionWork } from './runTransaction';
import { createSocketWatchdog, type SocketWatchdog } from './createSocketWatchdog';
import { createReplicaSet, type Replica, type ReplicaSet } from './replicaSet';
import { isReplicaFault } from './isReplicaFault';

export type { Consistency, TransactionCounts, TransactionDeadline, TransactionOptions, TransactionWork };

export interface DbOptions {
  poolMax: number;
  connectTimeoutMs: number;
  idleTimeoutS: number;
  statementTimeoutMs: number;
  prepare: boolean;
  /** Bounded wait for a free connection (until its BEGIN is written) before a call is answered 503. */
  acquireTimeoutMs: number;
  /** Bound on a started transaction as a whole: then 504 (rolled back) or 503 (commit unconfirmed). */
  transactionTimeoutMs: number;
  /** Most calls waiting for a connection per database (DB_MAX_WAITING); more are answered 503 at once. */
  maxWaiting?: number;
  /** A connection silent this long while it owes an answer has its network path probed (DB_PROBE_AFTER_MS; 0: never). */
  probeAfterMs?: number;
  /** A replica lagging more is skipped (DB_REPLICA_MAX_LAG_MS). */
  replicaMaxLagMs?: number;
  /** How often replicas are checked (DB_REPLICA_CHECK_MS). */
  replicaCheckMs?: number;
}

export interface Databases {
  readonly names: readonly string[];
  /** The pool itself: for migrations and tools, never handed to handlers. */
  pool(name: string): Sql;
  /**
   * A read-only transaction runs on a usable replica of the database when it has one (and, given `consistency.minLsn`,
   * one that has replayed that far), else on the primary; a replica that fails it in a way the primary would not
   * (its connection, its shutdown, a recovery conflict) has it run again on the primary. A write on a database with
   * replicas sets `consistency.lsn` when `consistency` is given.
   */
  transaction<T>(name: string, options: TransactionOptions, fn: TransactionWork<T>, consistency?: Consistency): Promise<T>;
  /** Each database's transactions (on its primary and its replicas) now and so far, for metrics. */
  readonly counts: ReadonlyMap<string, Readonly<TransactionCounts>>;
  /** The replicas of each database that has any (for metrics). */
  readonly replicas: ReadonlyMap<string, ReplicaSet>;
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

export function createDatabases(urls: Record<string, string>, options: DbOptions, replicaUrls: Record<string, readonly string[]> = {}): Databases {
  const watchdog = options.probeAfterMs ? createSocketWatchdog({ probeAfterMs: options.probeAfterMs, probeTimeoutMs: PROBE_TIMEOUT_MS }) : undefined;
  const pools = new Map(Object.entries(urls).map(([name, url]) => [name, connect(url, options, watchdog)]));
  // Pools per replica are sized like the primary's.
  const replicas = new Map(Object.entries(replicaUrls).filter(([name, list]) => pools.has(name) && list.length > 0).map(([name, list]) => [name, createReplicaSet(list, (url) => connect(url, options, watchdog), {
    maxLagMs: options.replicaMaxLagMs ?? 5_000, checkMs: options.replicaCheckMs ?? 1_000, checkTimeoutMs: Math.max(options.connectTimeoutMs, 1_000),
  }, pools.get(name))]));
  // Each database's transactions counted, on its primary and its replicas alike.
  const counts = new Map([...pools.keys()].map((name): [string, TransactionCounts] => [name, { waiting: 0, running: 0, commits: 0, rollbacks: 0 }]));
  // Each pool's limits with its own count of calls, running or waiting for a connection, for DB_MAX_WAITING.
  const limitsOf = (name: string): TransactionLimits => ({
    acquireTimeoutMs: options.acquireTimeoutMs, transactionTimeoutMs: options.transactionTimeoutMs,
    maxWaiting: options.maxWaiting, poolMax: options.poolMax, queue: { calls: 0 }, counts: counts.get(name),
  });
  const limits = new Map([...pools.keys()].map((name) => [name, limitsOf(name)]));
  const replicaLimits = new WeakMap<Replica, TransactionLimits>();
  const onPrimary = <T>(name: string, o: TransactionOptions, fn: TransactionWork<T>, consistency?: Consistency) =>
    runTransaction(pool(name), limits.get(name)!, o, fn, consistency);
  const pool = (name: string) => {
    const sql = pools.get(name);
    if (!sql) throw new Error(`database "${name}" is not configured`);
    return sql;
  };
  return {
    names: [...pools.keys()],
    pool,
    counts,
    replicas,
    transaction(name, o, fn, consistency) {
      const set = replicas.get(name);
      if (!set) return onPrimary(name, o, fn);
      const replica = o.readOnly ? set.pick(consistency?.minLsn) : undefined;
      if (replica) return onReplica(set, replica, name, o, fn, consistency?.minLsn);
      // A write's LSN is read only where there is a replica to read it back from.
      if (consistency && !o.readOnly && !o.rollback) consistency.lsnAfterCommit = true;
      return onPrimary(name, o, fn, consistency);
    },
    async ready(timeoutMs) {
      const now = performance.now();
      // A primary that committed a transaction within RECENT_COMMIT_MS answers: under load (when a `select 1` would
      // queue behind every waiting call) /ready answers at once.
      const checks = [...pools].map(([name, sql]) => now - (limits.get(name)!.lastCommitAt ?? -Infinity) < RECENT_COMMIT_MS || sql`select 1`.then(() => true, () => false));
      const timeout = new Promise<boolean>((r) => setTimeout(r, timeoutMs, false).unref());
      return (await Promise.race([Promise.all(checks).then((ok) => ok.every(Boolean)), timeout])) as boolean;
    },
    async end() {
      watchdog?.stop();
      await Promise.all([...replicas.values()].map((set) => set.end()));
      await Promise.all([...pools.values()].map((sql) => sql.end({ timeout: 5 })));
    },
  };

  /**
   * A read on a replica. Should the replica fail it before the work ran at all (no connection in time), or
   * with a fault of its own while it ran (see isReplicaFault), the read runs again on the primary: it is read only,
   * so running it twice changes nothing, and a replica's failure never fails a call that the primary could answer.
   */
  async function onReplica<T>(set: ReplicaSet, replica: Replica, name: string, o: TransactionOptions, fn: TransactionWork<T>, minLsn?: bigint): Promise<T> {
    let ran = false;
    try {
      let own = replicaLimits.get(replica);
      if (!own) replicaLimits.set(replica, (own = limitsOf(name)));
      const value = await runTransaction(replica.sql, own, o, (tx, deadline) => {
        ran = true;
        return fn(tx, deadline);
      }, minLsn === undefined ? undefined : { minLsn, checkReplayed: true });
      replica.calls++;
      return value;
    } catch (e) {
      if (ran && !isReplicaFault(e)) throw e;
      // A recovery conflict is no outage, nor is a replica a few ms behind what its last check said.
      if ((e as { code?: string }).code !== '40001' && !(e instanceof ReplicaBehindError)) set.failed(replica);
      return onPrimary(name, o, fn);
    }
  }
}
