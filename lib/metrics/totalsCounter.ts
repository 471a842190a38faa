// A Prometheus counter whose values are totals the gateway keeps in plain numbers, read when scraped: a call pays no
// prom-client update (each hashes its labels). prom-client's counters only go up by inc, so each scrape resets it and
// adds every total again.
import { Counter, type Registry } from 'prom-client';

export interface TotalsCounterConfig<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
  /** Calls `add` once per series with its labels and its total so far. */
  read: (add: (labels: Record<L, string>, total: number) => void) => void;
}

export function totalsCounter<L extends string>({ read, ...config }: TotalsCounterConfig<L>): Counter<L> {
  return new Counter<L>({
    ...config,
    collect() {
      this.reset();
      read((labels, total) => this.inc(labels as Partial<Record<L, string>>, total));
    },
  });
}
