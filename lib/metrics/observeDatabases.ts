// Wraps the databases so every transaction counts in the pool gauges and the commit and rollback counters.
import type { Databases } from '../db/createDatabases';
import type { Metrics } from './createMetrics';

// postgres.js keeps its pool state private: a transaction is "waiting" from begin() until its callback runs,
// "in use" while the callback runs. Work done outside transactions (migrations, /ready) is not counted.
export function observeDatabases(db: Databases, metrics: Metrics, poolMax: number): Databases {
  for (const name of db.names) {
    metrics.poolSize.set({ database: name }, poolMax);
    metrics.poolInUse.set({ database: name }, 0);
    metrics.poolWaiting.set({ database: name }, 0);
    metrics.commits.inc({ database: name }, 0);
    metrics.rollbacks.inc({ database: name }, 0);
  }
  return {
    ...db,
    async transaction(name, options, fn) {
      const labels = { database: name };
      let started = false;
      metrics.poolWaiting.inc(labels);
      try {
        const value = await db.transaction(name, options, async (tx, deadline) => {
          started = true;
          metrics.poolWaiting.dec(labels);
          metrics.poolInUse.inc(labels);
          try {
            return await fn(tx, deadline);
          } finally {
            metrics.poolInUse.dec(labels);
          }
        });
        metrics.commits.inc(labels);
        return value;
      } catch (e) {
        if (started) metrics.rollbacks.inc(labels); // a transaction that never began has nothing to roll back
        throw e;
      } finally {
        if (!started) metrics.poolWaiting.dec(labels);
      }
    },
  };
}
