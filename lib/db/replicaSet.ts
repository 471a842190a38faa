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

// Lag by time: 0 while the replica has replayed everything it received (an idle primary sends nothing, and the age of
// the last replayed commit would only measure how idle it is); else the age of the last commit it replayed.
const CHECK = `
  select pg_is_in_recovery() as standby,
         coalesce(pg_last_wal_replay_lsn(), '0/0')::text as replay,
         case when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
              else coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000, 0) end::float8 as lag_ms`;

export function createReplicaSet(urls: readonly string[], connect: (url: string) => Sql, o: ReplicaSetOptions): ReplicaSet {
  const replicas: Replica[] = urls.map((url) => {
    const u = new URL(url);
    return { name: `${u.hostname}:${u.port || 5432}`, sql: connect(url), state: 'unknown', lagMs: 0, replayLsn: 0n, calls: 0 };
  });
  let next = 0;
  let checking: Promise<void> | undefined;

  async function checkOne(r: Replica): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${o.checkTimeoutMs} ms`)), o.checkTimeoutMs);
      });
      const [row] = await Promise.race([r.sql.unsafe(CHECK), timeout]);
      const lsn = parseLsn(row.replay);
      // A server that is not in recovery is no replica (a promoted one, or a wrong URL): it never answers reads.
      if (!row.standby) return void (r.state = 'down');
      // As read now, not the highest seen: a replica that restarted may be behind where it was until it replays again.
      if (lsn !== undefined) r.replayLsn = lsn;
      r.lagMs = Math.round(row.lag_ms);
      r.state = r.lagMs > o.maxLagMs ? 'lagging' : 'up';
    } catch {
      r.state = 'down';
    } finally {
      clearTimeout(timer);
    }
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
      return (checking ??= Promise.all(replicas.map(checkOne)).then(() => void (checking = undefined)));
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
