// Middleware: bearer authentication. The request's caller, or 401 (with `WWW-Authenticate: Bearer`, by handleErrors):
// a static token (BEARER/CALLERS) first, then, when JWT_ISSUER is set, a JWT from the identity provider.
import type { Middleware } from 'koa';
import type { AppState } from '../http/AppState';
import type { Caller } from './Caller';
import { ApiError } from '../errors/ApiError';
import { callerFinder } from './callerFinder';
import { bearerToken } from './bearerToken';
import { INVALID_TOKEN, type JwtVerifier } from './jwtVerifier';

export function authenticate(callers: readonly Caller[], jwt?: JwtVerifier): Middleware<AppState> {
  const find = callerFinder(callers);
  return (ctx, next) => {
    const header = ctx.headers.authorization;
    // A JWT verified before is found first: the static lookup would digest its long token on every call (~8 µs).
    const token = jwt && bearerToken(header);
    const caller = (token && jwt.cached(token)) || find(header);
    if (caller) {
      ctx.state.caller = caller;
      return next();
    }
    if (!token) throw new ApiError('unauthorized');
    // Three dot-separated parts: anything else is neither a static token we know nor a JWT.
    if (token.split('.').length !== 3) throw new ApiError('unauthorized', { headers: INVALID_TOKEN, cause: new Error('invalid token: neither a configured token nor a JWT') });
    return jwt.verify(token).then((c) => {
      ctx.state.caller = c;
      return next();
    });
  };
}
