// The one shape of an access line (ECS fields), for koa's requests and for those Node's parser answers itself.
import type { Logger } from 'pino';
import type { ApiError } from '../errors/ApiError';

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
