// Middleware: writes exactly one ECS access line per request, when its response is done (or the client left).
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppState } from './AppState';

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
        error: error ? { code: error.code } : undefined,
      };
      if (error && error.status >= 500 && error.code === 'internal') {
        log.error({ ...line, err: error.cause ?? error }, `${ctx.method} ${ctx.path} ${status}`);
      } else if (status >= 500) {
        log.warn({ ...line, error: { code: error?.code, cause: causeText(error?.cause) } }, `${ctx.method} ${ctx.path} ${status}`);
      } else {
        log.info(line, `${ctx.method} ${ctx.path} ${status}`);
      }
    });
    await next();
  };
}

function causeText(cause: unknown): string | undefined {
  if (!cause) return undefined;
  const c = cause as { code?: string; message?: string };
  return [c.code, c.message].filter(Boolean).join(': ') || String(cause);
}
