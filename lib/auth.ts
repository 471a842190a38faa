// Middleware: bearer authentication. Finds the caller whose token matches, comparing SHA-256 digests in constant time.
import { timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import type { AppState } from './AppState';
import type { Caller } from './Caller';
import { sha256 } from './sha256';
import { ApiError } from './errors';

// Exactly one scheme word (any case), one space, one token of RFC 6750 token68 characters: nothing before or after.
export const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
export const TOKEN68_RULE = 'letters, digits and - . _ ~ + / only (then = padding), as a bearer token must be';
const BEARER = new RegExp(`^bearer (${TOKEN68.source.slice(1, -1)})$`, 'i');

export function findCaller(callers: readonly Caller[], header: string | undefined): Caller | undefined {
  const m = header ? BEARER.exec(header) : null;
  if (!m) return undefined;
  const digest = sha256(m[1]);
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
