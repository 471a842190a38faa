// The pool gauges and the commit and rollback counters, read from the databases' transaction counts when scraped:
// runTransaction keeps plain numbers as transactions go, so a call pays no metric updates (each cost a label hash).
import { Gauge } from 'prom-client';
import { totalsCounter } from './totalsCounter';
import type { Databases, TransactionCounts } from '../db/createDatabases';
import type { Metrics } from './createMetrics';

// A transaction is "waiting" from its call until a connection is taken and BEGIN sent, then "in use" until it ends; on
// a read replica it counts under its database. Work done outside transactions (migrations, /ready) is not counted.
export function observeDatabases(db: Databases, metrics: Metrics, poolMax: number): void {
  const registers = [metrics.registry];
  const each = (fn: (database: string, c: Readonly<TransactionCounts>) => void) => {
    for (const [database, c] of db.counts) fn(database, c);
  };
  new Gauge({
    name: 'dbapi_db_pool_size', help: 'Connections the pool may open (DB_POOL_MAX)', labelNames: ['database'] as const, registers,
    collect() {
      each((database) => this.set({ database }, poolMax));
    },
  });
  new Gauge({
    name: 'dbapi_db_pool_in_use', help: 'Connections holding a running transaction', labelNames: ['database'] as const, registers,
    collect() {
      each((database, c) => this.set({ database }, c.running));
    },
  });
  new Gauge({
    name: 'dbapi_db_pool_waiting', help: 'Transactions waiting for a connection', labelNames: ['database'] as const, registers,
    collect() {
      each((database, c) => this.set({ database }, c.waiting));
    },
  });
  totalsCounter({
    name: 'dbapi_db_commits_total', help: 'Transactions committed', labelNames: ['database'] as const, registers,
    read: (add) => each((database, c) => add({ database }, c.commits)),
  });
  totalsCounter({
    name: 'dbapi_db_rollbacks_total', help: 'Transactions rolled back (errors, dry runs, calls answered before their transaction ended)', labelNames: ['database'] as const, registers,
    read: (add) => each((database, c) => add({ database }, c.rollbacks)),
  });
}
