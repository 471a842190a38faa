// Middleware: the one place where errors become responses: status, headers and the JSON error body.
import type { Middleware } from 'koa';
import type { AppState } from '../http/AppState';
import { ApiError } from './ApiError';
import { toApiError } from './toApiError';

export function handleErrors(): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null) throw new ApiError('not_found'); // nothing matched
    } catch (thrown) {
      const error = toApiError(thrown);
      ctx.state.error = error;
      ctx.status = error.status;
      ctx.set(error.headers ?? {});
      if (error.status === 401 && !error.headers?.['WWW-Authenticate']) ctx.set('WWW-Authenticate', 'Bearer');
      ctx.type = 'application/json';
      ctx.body = JSON.stringify({
        error: { code: error.code, message: error.message, requestId: ctx.state.requestId, details: error.details },
      });
    }
  };
}
