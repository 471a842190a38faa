// GET /metrics: the Prometheus text exposition of this replica's metrics. No token, like /health.
import Router from '@koa/router';
import type { AppState } from '../AppState';
import type { Metrics } from './createMetrics';

export function metricsRoutes(metrics: Metrics): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
