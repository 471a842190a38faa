// GET /metrics: the Prometheus text exposition of this replica's metrics. No token unless METRICS_TOKEN is set; with
// METRICS_PORT it is served on that port only (lib/http/serveManagementPort.ts), and not here.
import { timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { AppState } from '../http/AppState';
import { GATEWAY_PATHS } from '../http/gatewayPaths';
import { ApiError } from '../errors/ApiError';
import { bearerToken } from '../auth/bearerToken';
import { sha256 } from '../auth/sha256';
import type { Metrics } from './createMetrics';

export interface MetricsAccess {
  /** SHA-256 of METRICS_TOKEN: scrapers send it as a bearer token. */
  token?: Buffer;
  /** METRICS_PORT: /metrics is not served on the gateway's port. */
  port?: number;
}

export function metricsRoutes(metrics: Metrics, access: MetricsAccess = {}): Router<AppState> {
  const router = new Router<AppState>();
  if (access.port) return router;
  router.get(GATEWAY_PATHS.metrics, async (ctx) => {
    if (!mayScrape(access, ctx.headers.authorization)) throw new ApiError('unauthorized');
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}

/** Whether an Authorization header may read the metrics (always, with no METRICS_TOKEN). */
export function mayScrape(access: MetricsAccess, header: string | undefined): boolean {
  if (!access.token) return true;
  const token = bearerToken(header);
  return token !== undefined && timingSafeEqual(sha256(token), access.token);
}
