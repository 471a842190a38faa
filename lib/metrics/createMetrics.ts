// The Prometheus metrics of one app, in a registry of its own (no prom-client global), so tests and apps never share.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry }); // Node's process metrics: CPU, memory, event loop lag, handles
  const requests = new Counter({
    name: 'dbapi_requests_total', help: 'Requests by action, caller and HTTP status',
    labelNames: ['action', 'caller', 'status'] as const, registers,
  });
  const duration = new Histogram({
    name: 'dbapi_request_duration_seconds', help: 'Request latency by action and caller, until the response ended',
    labelNames: ['action', 'caller'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers,
  });
  const rejections = new Counter({
    name: 'dbapi_caller_rejections_total', help: 'Calls refused 429 because their caller had its maxConcurrent running',
    labelNames: ['caller'] as const, registers,
  });
  // The labelled children, found once per label set: prom-client hashes the labels on every inc/observe otherwise.
  // Their number is bounded as the series are (actions × callers × statuses).
  const children = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();
  return {
    registry,
    /** One finished request, from the status its access line carries too. */
    recordRequest(action: string, caller: string, status: number, seconds: number): void {
      const key = `${action}\0${caller}\0${status}`;
      let child = children.get(key);
      if (!child) {
        child = { count: requests.labels(action, caller, String(status)), time: duration.labels(action, caller) };
        children.set(key, child);
      }
      child.count.inc();
      child.time.observe(seconds);
      if (status === 429) rejections.labels(caller).inc();
    },
  };
}
