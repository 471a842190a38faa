// Wraps the databases so every transaction counts in the pool gauges and the commit and rollback counters.
import type { Databases } from '../db/createDatabases';
import type { Metrics } from './createMetrics';

// postgres.js keeps its pool state private: a transaction is "waiting" from begin() until its callback runs,
// "in use" while the callback runs. Work done outside transactions (migrations, /ready) is not counted.
export function observeDatabases(db: Databases, metrics: Metrics, poolMax: number): Databases {
  // Each database's labelled series, found once: prom-client hashes the labels on every call otherwise.
  const series = new Map(db.names.map((name) => {
    metrics.poolSize.set({ database: name }, poolMax);
    const s = {
      waiting: metrics.poolWaiting.labels(name), inUse: metrics.poolInUse.labels(name),
      commits: metrics.commits.labels(name), rollbacks: metrics.rollbacks.labels(name),
    };
    s.waiting.set(0);
    s.inUse.set(0);
    s.commits.inc(0);
    s.rollbacks.inc(0);
    return [name, s];
  }));
  return {
    ...db,
    async transaction(name, options, fn, consistency) {
      const s = series.get(name);
      if (!s) return db.transaction(name, options, fn, consistency); // not configured: db.transaction says so
      let started = false;
      s.waiting.inc();
      try {
        const value = await db.transaction(name, options, async (tx, deadline) => {
          started = true;
          s.waiting.dec();
          s.inUse.inc();
          try {
            return await fn(tx, deadline);
          } finally {
            s.inUse.dec();
          }
        }, consistency);
        s.commits.inc();
        return value;
      } catch (e) {
        if (started) s.rollbacks.inc(); // a transaction that never began has nothing to roll back
        throw e;
      } finally {
        if (!started) s.waiting.dec();
      }
    },
  };
}
