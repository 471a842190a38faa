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
    const caller = find(header);
    if (caller) {
      ctx.state.caller = caller;
      return next();
    }
    const token = jwt && bearerToken(header);
    if (!token) throw new ApiError('unauthorized');
    const known = jwt.cached(token);
    if (known) {
      ctx.state.caller = known;
      return next();
    }
    // Three dot-separated parts: anything else is neither a static token we know nor a JWT.
    if (token.split('.').length !== 3) throw new ApiError('unauthorized', { headers: INVALID_TOKEN, cause: new Error('invalid token: neither a configured token nor a JWT') });
    return jwt.verify(token).then((c) => {
      ctx.state.caller = c;
      return next();
    });
  };
}
