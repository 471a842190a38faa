// The Prometheus metrics of one app, in a registry of its own (no prom-client global), so tests and apps never share.
import { collectDefaultMetrics, Counter, Registry, type Metric } from 'prom-client';
import { totalsCounter } from './totalsCounter';

export type Metrics = ReturnType<typeof createMetrics>;

const DURATION = {
  name: 'dbapi_request_duration_seconds',
  help: 'Request latency by action and caller, until the response ended',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
};

/** One action and caller's requests: how many ended with each status, and their latency as histogram buckets. */
interface Series {
  action: string;
  caller: string;
  statuses: Map<number, number>;
  /** Observations per bucket (not cumulative): index i counts values ≤ buckets[i] and > buckets[i - 1]; the last, above all. */
  inBucket: number[];
  sum: number;
  count: number;
}

export function createMetrics() {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry }); // Node's process metrics: CPU, memory, event loop lag, handles
  // Requests are counted in plain numbers per action and caller, and read when scraped (totalsCounter, and the
  // histogram below): prom-client's labelled counters and histograms hash their labels on every inc and observe,
  // which cost ~5% of a small call's CPU. Their number is bounded as the series are (actions × callers × statuses).
  const series = new Map<string, Map<string, Series>>();
  const each = (fn: (s: Series) => void) => {
    for (const byCaller of series.values()) for (const s of byCaller.values()) fn(s);
  };
  totalsCounter({
    name: 'dbapi_requests_total', help: 'Requests by action, caller and HTTP status',
    labelNames: ['action', 'caller', 'status'] as const, registers,
    read: (add) => each((s) => s.statuses.forEach((n, status) => add({ action: s.action, caller: s.caller, status: String(status) }, n))),
  });
  registry.registerMetric(durationHistogram(each) as unknown as Metric);
  const rejections = new Counter({
    name: 'dbapi_caller_rejections_total', help: 'Calls refused 429 because their caller had its maxConcurrent running',
    labelNames: ['caller'] as const, registers,
  });
  return {
    registry,
    /** One finished request, from the status its access line carries too. */
    recordRequest(action: string, caller: string, status: number, seconds: number): void {
      let byCaller = series.get(action);
      if (!byCaller) series.set(action, (byCaller = new Map()));
      let s = byCaller.get(caller);
      if (!s) byCaller.set(caller, (s = { action, caller, statuses: new Map(), inBucket: DURATION.buckets.map(() => 0).concat(0), sum: 0, count: 0 }));
      s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
      let i = 0;
      while (i < DURATION.buckets.length && seconds > DURATION.buckets[i]) i++;
      s.inBucket[i]++;
      s.sum += seconds;
      s.count++;
      if (status === 429) rejections.labels(caller).inc();
    },
  };
}

/**
 * The latency histogram as the registry reads it when scraped (prom-client's metric shape: name, help, type and the
 * values with their labels), made from the series' buckets: the same lines prom-client's own histogram writes.
 */
function durationHistogram(each: (fn: (s: Series) => void) => void) {
  const { name, help, buckets } = DURATION;
  const get = async () => {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    each((s) => {
      let cumulative = 0;
      buckets.forEach((le, i) => {
        cumulative += s.inBucket[i];
        values.push({ metricName: `${name}_bucket`, labels: { le, action: s.action, caller: s.caller }, value: cumulative });
      });
      values.push(
        { metricName: `${name}_bucket`, labels: { le: '+Inf', action: s.action, caller: s.caller }, value: s.count },
        { metricName: `${name}_sum`, labels: { action: s.action, caller: s.caller }, value: s.sum },
        { metricName: `${name}_count`, labels: { action: s.action, caller: s.caller }, value: s.count },
      );
    });
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  };
  // Registered as prom-client registers its own metrics (the registry reads name, type and get()); reset() is a no-op
  // as it is for the request counter, which is refilled from the same totals on every scrape.
  return { name, help, type: 'histogram', aggregator: 'sum', get, reset() {} };
}
