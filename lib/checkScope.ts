// Refuses a call the caller's `allow` patterns do not cover (403), for single calls and each call of a batch alike.
import type { Caller } from '../src/settings';
import { ApiError } from './errors';
import { isAllowed } from './auth';

export function checkScope(caller: Caller, actionId: string): void {
  if (!isAllowed(caller, actionId)) throw new ApiError('forbidden');
}
