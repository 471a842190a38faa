// The read replicas of one database: a pool each, their health, lag and replayed LSN read on an interval, and the
// choice of a replica for a read (one that is up, within the lag bound and, for read-your-writes, replayed far enough).
import type { Sql } from 'postgres';
import { parseLsn } from './parseLsn';

export type ReplicaState = 'unknown' | 'up' | 'lagging' | 'down';

export interface Replica {
  /** host:port of the replica (never its password): the label of its metrics. */
  readonly name: string;
  readonly sql: Sql;
  state: ReplicaState;
  /** Replay lag at the last check, in ms (0 when it has replayed all it received). */
  lagMs: number;
  /** WAL replayed at the last check; a read with Dbapi-Min-Lsn checks it again in its transaction. */
  replayLsn: bigint;
  /** Transactions run on it. */
  calls: number;
}

export interface ReplicaSetOptions {
  maxLagMs: number;
  checkMs: number;
  /** Bound on one check: a replica that does not answer in time is down. */
  checkTimeoutMs: number;
}

export interface ReplicaSet {
  readonly replicas: readonly Replica[];
  /** A usable replica that has replayed at least `minLsn`, or undefined: the read goes to the primary. */
  pick(minLsn?: bigint): Replica | undefined;
  /** A replica failed a call (its connection): skipped from now until a check finds it up again. */
  failed(replica: Replica): void;
  /** Checks every replica once now (the interval does so on its own). */
  check(): Promise<void>;
  end(): Promise<void>;
}

// The replica's own view: lag 0 while it has replayed all it received, else the age of the last commit it replayed (an
// idle primary sends nothing, so that age alone would measure how idle it is). Used when the primary cannot be read.
const CHECK = `
  select pg_is_in_recovery() as standby,
         coalesce(pg_last_wal_replay_lsn(), '0/0')::text as replay,
         case when pg_last_wal_receive_lsn() is null or pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() then 0
              else coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000, 0) end::float8 as lag_ms`;
const PRIMARY_LSN = 'select pg_current_wal_insert_lsn()::text as lsn';

/**
 * Lag is measured against the primary when it answers: each check first reads the primary's WAL position, and a
 * replica's lag is how long ago the primary first wrote past what the replica has replayed (0 once it has replayed
 * where the primary was at this check). That holds whether the primary is busy or idle, the replica's link to it is
 * up or down, or the replica just restarted; it is as fine as the check interval.
 */
export function createReplicaSet(urls: readonly string[], connect: (url: string) => Sql, o: ReplicaSetOptions, primary?: Sql): ReplicaSet {
  const replicas: Replica[] = urls.map((url) => {
    const u = new URL(url);
    return { name: `${u.hostname}:${u.port || 5432}`, sql: connect(url), state: 'unknown', lagMs: 0, replayLsn: 0n, calls: 0 };
  });
  let next = 0;
  let checking: Promise<void> | undefined;
  // The primary's WAL position at each check, oldest first, kept as long as a lag could still count.
  const samples: Array<{ at: number; lsn: bigint }> = [];

  async function checkOne(r: Replica, primaryRead: boolean): Promise<void> {
    try {
      const [row] = await bounded(r.sql.unsafe(CHECK), o.checkTimeoutMs);
      const lsn = parseLsn(row.replay);
      // A server that is not in recovery is no replica (a promoted one, or a wrong URL): it never answers reads.
      if (!row.standby || lsn === undefined) return void (r.state = 'down');
      // As read now, not the highest seen: a replica that restarted may be behind where it was until it replays again.
      r.replayLsn = lsn;
      const unreached = primaryRead ? samples.find((s) => s.lsn > lsn) : undefined;
      r.lagMs = primaryRead ? (unreached ? Date.now() - unreached.at : 0) : Math.round(row.lag_ms);
      r.state = r.lagMs > o.maxLagMs ? 'lagging' : 'up';
    } catch {
      r.state = 'down';
    }
  }

  async function checkAll(): Promise<void> {
    const at = Date.now();
    const lsn = primary ? await bounded(primary.unsafe(PRIMARY_LSN), o.checkTimeoutMs).then(([row]) => parseLsn(row.lsn), () => undefined) : undefined;
    if (lsn !== undefined) {
      samples.push({ at, lsn });
      while (samples.length > 1 && samples[0].at < at - o.maxLagMs - 2 * o.checkMs) samples.shift();
    }
    await Promise.all(replicas.map((r) => checkOne(r, lsn !== undefined)));
  }

  const self: ReplicaSet = {
    replicas,
    pick(minLsn) {
      for (let i = 0; i < replicas.length; i++) {
        const r = replicas[(next + i) % replicas.length];
        if (r.state === 'up' && (minLsn === undefined || r.replayLsn >= minLsn)) {
          next = (next + i + 1) % replicas.length; // round robin over the usable ones
          return r;
        }
      }
      return undefined;
    },
    failed(r) {
      r.state = 'down';
    },
    check() {
      return (checking ??= checkAll().finally(() => void (checking = undefined)));
    },
    async end() {
      clearInterval(interval);
      await Promise.all(replicas.map((r) => r.sql.end({ timeout: 5 })));
    },
  };
  const interval = setInterval(() => void self.check(), o.checkMs).unref();
  void self.check();
  return self;
}

/** The query's answer, or a rejection once `ms` have passed without one. */
async function bounded<T>(query: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([query, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}
