// Middleware: writes exactly one ECS access line per request, when its response is done (or the client left).
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppState } from './AppState';
import type { ApiError } from './errors';

export function accessLog(log: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    ctx.res.once('close', () => {
      const { requestId, caller, action, error } = ctx.state;
      const status = ctx.res.headersSent ? ctx.status : 499; // 499: the client went away before an answer
      const line = {
        http: { request: { id: requestId, method: ctx.method }, response: { status_code: status } },
        url: { path: ctx.path },
        user: caller ? { name: caller.name } : undefined,
        dbapi: action ? { action } : undefined,
        event: { duration: Number(process.hrtime.bigint() - start) },
        error: error ? describe(error) : undefined,
      };
      const level = error?.code === 'internal' ? 'error' : status >= 500 ? 'warn' : 'info';
      log[level](line, `${ctx.method} ${ctx.path} ${status}`);
    });
    await next();
  };
}

/** The error's code; for 5xx also its cause (the stack only for `internal`: the others are expected conditions). */
function describe(error: ApiError) {
  if (error.status < 500) return { code: error.code };
  const cause = (error.cause ?? error) as { name?: string; code?: string; message?: string; stack?: string };
  return {
    code: error.code,
    type: cause.name,
    message: [cause.code, cause.message].filter(Boolean).join(': ') || String(cause),
    stack_trace: error.code === 'internal' ? cause.stack : undefined,
  };
}
