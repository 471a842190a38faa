// Metrics per read replica, read from the replica sets when scraped: calls run on it, its lag and its state.
import { Gauge } from 'prom-client';
import type { Databases } from '../db/createDatabases';
import type { Replica } from '../db/replicaSet';
import type { Metrics } from './createMetrics';

const STATES = ['up', 'lagging', 'down', 'unknown'] as const;

export function observeReplicas(db: Databases, metrics: Metrics): void {
  if (db.replicas.size === 0) return;
  const registers = [metrics.registry];
  const each = (fn: (database: string, r: Replica) => void) => {
    for (const [database, set] of db.replicas) for (const r of set.replicas) fn(database, r);
  };
  new Gauge({
    name: 'dbapi_replica_calls', help: 'Transactions run on a read replica (a counter, read from the replica set)', labelNames: ['database', 'replica'] as const, registers,
    collect() {
      each((database, r) => this.set({ database, replica: r.name }, r.calls));
    },
  });
  new Gauge({
    name: 'dbapi_replica_lag_ms', help: 'Replay lag of a read replica at its last check, in ms', labelNames: ['database', 'replica'] as const, registers,
    collect() {
      each((database, r) => this.set({ database, replica: r.name }, r.lagMs));
    },
  });
  new Gauge({
    name: 'dbapi_replica_state', help: 'State of a read replica: 1 for its current state (up, lagging, down, unknown)', labelNames: ['database', 'replica', 'state'] as const, registers,
    collect() {
      each((database, r) => { for (const state of STATES) this.set({ database, replica: r.name, state }, r.state === state ? 1 : 0); });
    },
  });
}
