// Refuses a call the caller's `allow` patterns do not cover (403), for single calls and each call of a batch alike.
import type { Caller } from './Caller';
import { ApiError } from '../errors/ApiError';

export function checkScope(caller: Caller, actionId: string): void {
  if (!isAllowed(caller, actionId)) throw new ApiError('forbidden');
}

/** Whether the caller's `allow` patterns (`*`, `module/*`, `module/action`) cover `module/action`. */
export function isAllowed(caller: Caller, action: string): boolean {
  const slash = action.indexOf('/');
  const module = slash < 0 ? action : action.slice(0, slash);
  return caller.allow.some((p) => p === '*' || p === action || p === `${module}/*`);
}
