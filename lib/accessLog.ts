// Middleware: writes exactly one ECS access line per request, when its response is done (or the client left).
import type { ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppState } from './AppState';
import type { ApiError } from './errors';

export interface AccessLine {
  requestId: string;
  method: string;
  path: string;
  status: number;
  durationNs: number;
  caller?: string;
  action?: string;
  error?: ApiError;
}

/** The one shape of an access line, for koa's requests and for those Node's parser answers itself. */
export function writeAccessLine(log: Logger, a: AccessLine): void {
  const line = {
    http: { request: { id: a.requestId, method: a.method }, response: { status_code: a.status } },
    url: { path: a.path },
    user: a.caller ? { name: a.caller } : undefined,
    dbapi: a.action ? { action: a.action } : undefined,
    event: { duration: a.durationNs },
    error: a.error ? describe(a.error) : undefined,
  };
  const level = a.error?.code === 'internal' ? 'error' : a.status >= 500 ? 'warn' : 'info';
  log[level](line, `${a.method} ${a.path} ${a.status}`);
}

// Requests that Node's parser answered itself while koa was still reading them (a body that never came whole).
const answeredByParser = new WeakMap<ServerResponse, ApiError>();

/** Notes that the parser answered this request with `error`, so its one access line says so. */
export function noteAnsweredByParser(res: ServerResponse, error: ApiError): void {
  answeredByParser.set(res, error);
}

export function accessLog(log: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    ctx.res.once('close', () => {
      const { requestId, caller, action } = ctx.state;
      const parserError = answeredByParser.get(ctx.res);
      const error = parserError ?? ctx.state.error;
      // An answer not sent whole (the client left, or a stream broke off) is not logged as the 200 its headers said:
      // 499 when the client went away, else the error that cut it off.
      const status = parserError ? parserError.status : ctx.res.writableFinished ? ctx.status : error && ctx.res.headersSent ? error.status : 499;
      writeAccessLine(log, {
        requestId, method: ctx.method, path: ctx.path, status, durationNs: Number(process.hrtime.bigint() - start),
        caller: caller?.name, action, error,
      });
    });
    await next();
  };
}

/** The error's code; for 5xx also its cause (the stack only for `internal`: the others are expected conditions). */
function describe(error: ApiError) {
  const cause = (error.cause ?? error) as { name?: string; code?: string; message?: string; stack?: string };
  // A 4xx is the caller's doing: its code, and the cause when the database gave one (its SQLSTATE helps diagnosis).
  if (error.status < 500) return error.cause ? { code: error.code, type: cause.name, message: [cause.code, cause.message].filter(Boolean).join(': ') } : { code: error.code };
  return {
    code: error.code,
    type: cause.name,
    message: [cause.code, cause.message].filter(Boolean).join(': ') || String(cause),
    stack_trace: error.code === 'internal' ? cause.stack : undefined,
  };
}
