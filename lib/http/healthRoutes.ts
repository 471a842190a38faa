// GET /health (the process runs) and GET /ready (every database answers, migrations are done, not draining). No token.
import Router from '@koa/router';
import type { AppState } from './AppState';
import type { Databases } from '../db/createDatabases';
import type { Lifecycle } from './Lifecycle';
import { ApiError, RETRY_AFTER } from '../errors/ApiError';
import { GATEWAY_PATHS } from './gatewayPaths';

const READY_TIMEOUT_MS = 1_000;

export function healthRoutes(db: Databases, lifecycle: Lifecycle): Router<AppState> {
  const router = new Router<AppState>();
  router.get(GATEWAY_PATHS.health, (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get(GATEWAY_PATHS.ready, async (ctx) => {
    if (lifecycle.draining) throw new ApiError('unavailable', { message: 'This replica is shutting down', headers: RETRY_AFTER });
    if (lifecycle.migrating || !(await db.ready(READY_TIMEOUT_MS))) throw new ApiError('unavailable', { headers: RETRY_AFTER });
    ctx.body = { status: 'ready' };
  });
  return router;
}
