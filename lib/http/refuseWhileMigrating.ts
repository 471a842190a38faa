// Middleware: while start-up migrations wait for the database, calls are answered 503 (not run on a half-made schema).
import type { Middleware } from 'koa';
import type { AppState } from './AppState';
import type { Lifecycle } from './Lifecycle';
import { ApiError, RETRY_AFTER } from '../errors/ApiError';

export function refuseWhileMigrating(lifecycle: Lifecycle): Middleware<AppState> {
  return (_ctx, next) => {
    if (lifecycle.migrating) throw new ApiError('unavailable', { message: 'The database schema is not ready yet; retry later', headers: RETRY_AFTER });
    return next();
  };
}
