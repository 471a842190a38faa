// Middleware: the one "request finished" hook. When the response is done (or the client left) it settles the
// request's status once, then writes the one access line and records the metrics from that same status.
import type { ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppContext, AppState } from './AppState';
import type { ApiError } from '../errors/ApiError';
import type { Metrics } from '../metrics/createMetrics';
import { writeAccessLine } from '../log/writeAccessLine';
import { gatewayPathLabel } from './gatewayPaths';

// Requests that ended as an error outside koa's answer: Node's parser answered them while koa was still reading them
// (a body that never came whole), or their answer could not be written (lib/http/BatchedResponse.ts).
const endedOutside = new WeakMap<ServerResponse, ApiError>();

/** Notes that this request ended as `error` outside koa's answer, so its access line and metrics say so. */
export function noteEndedWith(res: ServerResponse, error: ApiError): void {
  endedOutside.set(res, error);
}

/**
 * What the request ended as. An answer not sent whole is not the 200 its headers said: the error that cut it off
 * (a stream that failed or stalled), else 499 when the client went away.
 */
function finalStatus(ctx: AppContext, outside: ApiError | undefined): number {
  if (outside) return outside.status;
  if (ctx.res.writableFinished) return ctx.status;
  const error = ctx.state.error;
  return error && ctx.res.headersSent ? error.status : 499;
}

export function requestFinished(log: Logger, metrics: Metrics): Middleware<AppState> {
  return (ctx, next) => {
    const start = performance.now(); // a double, not a BigInt per call
    ctx.res.on('close', () => { // emitted once: `on` spares once's wrapper
      const durationNs = Math.round((performance.now() - start) * 1e6);
      const outside = endedOutside.get(ctx.res);
      const status = finalStatus(ctx, outside);
      const { requestId, caller, action } = ctx.state;
      writeAccessLine(log, {
        requestId, method: ctx.method, path: ctx.path, status, durationNs,
        caller: caller?.name, action, error: outside ?? ctx.state.error,
      });
      // Only resolved actions and the gateway's own paths become labels: unknown paths must not grow the series.
      metrics.recordRequest(action ?? gatewayPathLabel(ctx.path), caller?.name ?? 'anonymous', status, durationNs / 1e9);
    });
    return next();
  };
}
