// Middleware: bearer authentication. Finds the caller whose token matches, comparing SHA-256 digests in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import type { AppState } from './AppState';
import type { Caller } from '../src/settings';
import { ApiError } from './errors';

// Exactly one scheme word (any case), one space, one token of RFC 6750 token68 characters: nothing before or after.
const BEARER = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

export function findCaller(callers: readonly Caller[], header: string | undefined): Caller | undefined {
  const m = header ? BEARER.exec(header) : null;
  if (!m) return undefined;
  const digest = createHash('sha256').update(m[1]).digest();
  let found: Caller | undefined;
  // Every hash is compared, so the time taken does not tell which caller (or how many) came close.
  for (const caller of callers) {
    for (const hash of caller.tokenHashes) if (timingSafeEqual(hash, digest) && !found) found = caller;
  }
  return found;
}

export function authenticate(callers: readonly Caller[]): Middleware<AppState> {
  return (ctx, next) => {
    const caller = findCaller(callers, ctx.headers.authorization);
    if (!caller) throw new ApiError('unauthorized');
    ctx.state.caller = caller;
    return next();
  };
}

/** Whether the caller's `allow` patterns (`*`, `module/*`, `module/action`) cover `module/action`. */
export function isAllowed(caller: Caller, action: string): boolean {
  const module = action.split('/')[0];
  return caller.allow.some((p) => p === '*' || p === action || p === `${module}/*`);
}
