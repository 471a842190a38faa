// Middleware: the routers of the gateway's own paths (GET only: /health, /ready, /metrics, /openapi.json, /docs) as
// one step that a call (a POST) passes at once, instead of having each router match its path against every call.
import compose from 'koa-compose';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AppState } from './AppState';

export function getRoutes(...routers: Array<Router<AppState>>): Middleware<AppState> {
  const routes = compose(routers.map((r) => r.routes()));
  return (ctx, next) => (ctx.method === 'GET' || ctx.method === 'HEAD' ? routes(ctx as never, next) : next());
}
