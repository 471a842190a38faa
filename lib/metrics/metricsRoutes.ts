// GET /metrics: the Prometheus text exposition of this replica's metrics. No token, like /health.
import Router from '@koa/router';
import type { AppState } from '../http/AppState';
import { GATEWAY_PATHS } from '../http/gatewayPaths';
import type { Metrics } from './createMetrics';

export function metricsRoutes(metrics: Metrics): Router<AppState> {
  const router = new Router<AppState>();
  router.get(GATEWAY_PATHS.metrics, async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
