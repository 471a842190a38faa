// Middleware: bearer authentication. The request's caller, or 401 (with `WWW-Authenticate: Bearer`, by handleErrors).
import type { Middleware } from 'koa';
import type { AppState } from '../http/AppState';
import type { Caller } from './Caller';
import { ApiError } from '../errors/ApiError';
import { callerFinder } from './callerFinder';

export function authenticate(callers: readonly Caller[]): Middleware<AppState> {
  const find = callerFinder(callers);
  return (ctx, next) => {
    const caller = find(ctx.headers.authorization);
    if (!caller) throw new ApiError('unauthorized');
    ctx.state.caller = caller;
    return next();
  };
}
