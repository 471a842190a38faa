// Middleware: counts every request and times it, by action and caller, once its response is done.
import type { Middleware } from 'koa';
import type { AppState } from '../AppState';
import type { Metrics } from './createMetrics';
import { RESERVED } from '../loadModules';

// The gateway's own GET endpoints keep their path as label; nothing else unmatched does.
const GATEWAY_PATHS = new Set([...[...RESERVED].map((name) => `/${name}`), '/openapi.json']);

export function recordRequests(metrics: Metrics): Middleware<AppState> {
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    ctx.res.once('close', () => {
      // Only matched actions become labels: arbitrary unknown paths must not grow the series without bound.
      const action = ctx.state.action ?? (GATEWAY_PATHS.has(ctx.path) ? ctx.path : 'none');
      const caller = ctx.state.caller?.name ?? 'anonymous';
      const status = String(ctx.res.headersSent ? ctx.status : 499);
      metrics.requests.inc({ action, caller, status });
      metrics.duration.observe({ action, caller }, Number(process.hrtime.bigint() - start) / 1e9);
    });
    await next();
  };
}
