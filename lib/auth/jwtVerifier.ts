// JWT bearer tokens from the organisation's OpenID Connect provider → callers: verified with jose against the issuer's
// keys (signature, algorithm, iss, aud, exp, nbf), then named, scoped and given a role from their claims. A verified
// token is remembered until its `exp`, so a busy caller pays one signature check per token, not per call.
import { jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from 'pino';
import type { Caller } from './Caller';
import { ApiError } from '../errors/ApiError';
import { jwksKeys } from './jwksKeys';
import { ROLE_NAME } from './roleName';

export interface JwtOptions {
  issuer: string;
  audience?: string;
  clockSkewS: number;
  jwksUrl?: string;
  jwksFile?: { keys: unknown[] };
  jwksCooldownS: number;
  jwksMaxAgeS: number;
  algorithms: readonly string[];
  callerClaim: string;
  scopeClaim: string;
  roleClaim?: string;
  dryRunClaim: string;
}

export interface JwtVerifier {
  /** The caller of a token verified before and not yet expired, without any work. */
  cached(token: string): Caller | undefined;
  /** Verifies a token: its caller, or 401 `unauthorized` whose cause (logged, never answered) says why. */
  verify(token: string): Promise<Caller>;
}

/** What RFC 6750 answers for a token that was sent but is not accepted. */
export const INVALID_TOKEN = { 'WWW-Authenticate': 'Bearer error="invalid_token"' } as const;
// The same patterns as CALLERS `allow`; scopes of other shapes (read:all, URLs) are not ours and ignored.
const ALLOW = /^(\*|[a-z0-9_-]+(\/(\*|[a-z0-9_-]+))?)$/;
const NAME = /^[\x21-\x7e]{1,128}$/;
// Bounds the cache: about 10,000 live tokens (a few MB); past it, expired ones are swept, then all are dropped.
const MAX_CACHED = 10_000;

export function jwtVerifier(o: JwtOptions, staticCallers: readonly Caller[], log: Logger): JwtVerifier {
  const keys = jwksKeys({ issuer: o.issuer, jwksUrl: o.jwksUrl, jwksFile: o.jwksFile, cooldownMs: o.jwksCooldownS * 1000, maxAgeMs: o.jwksMaxAgeS * 1000, log });
  const taken = new Set(staticCallers.map((c) => c.name));
  const verified = new Map<string, { caller: Caller; untilMs: number }>();
  const verifyOptions = {
    issuer: o.issuer, audience: o.audience, clockTolerance: o.clockSkewS, algorithms: [...o.algorithms],
    requiredClaims: ['exp'], // a token that never expires would be valid for ever
  };

  const reject = (reason: string, cause?: unknown): never => {
    throw new ApiError('unauthorized', { headers: INVALID_TOKEN, cause: new Error(`invalid token: ${reason}`, { cause }) });
  };

  function toCaller(claims: JWTPayload): Caller {
    const name = claims[o.callerClaim];
    if (typeof name !== 'string' || !NAME.test(name)) return reject(`claim ${o.callerClaim} is not a caller name (1-128 printable ASCII characters)`);
    if (taken.has(name)) return reject(`caller name ${JSON.stringify(name)} is a configured caller's (BEARER/CALLERS)`);
    const scope = claims[o.scopeClaim];
    const patterns = typeof scope === 'string' ? scope.split(' ') : Array.isArray(scope) ? scope : [];
    const role = o.roleClaim === undefined ? undefined : claims[o.roleClaim];
    // A token without the claim runs as the pool's user, as a static caller without a role does.
    if (role !== undefined && (typeof role !== 'string' || !ROLE_NAME.test(role))) return reject(`claim ${o.roleClaim} is not a role name`);
    return {
      name,
      tokenHashes: [],
      allow: patterns.filter((p): p is string => typeof p === 'string' && ALLOW.test(p)),
      dryRun: claims[o.dryRunClaim] === true,
      ...(role ? { role: role as string } : {}),
      claims,
    };
  }

  return {
    cached(token) {
      const hit = verified.get(token);
      if (!hit) return undefined;
      if (Date.now() < hit.untilMs) return hit.caller;
      verified.delete(token);
      return undefined;
    },
    async verify(token) {
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, keys, verifyOptions));
      } catch (e) {
        if (e instanceof ApiError) throw e; // the keys could not be fetched: 503
        const err = e as { code?: string; message?: string };
        return reject(`${err.code ?? 'ERR_JWT_INVALID'}: ${err.message}`);
      }
      const caller = toCaller(claims);
      if (verified.size >= MAX_CACHED) {
        const now = Date.now();
        for (const [t, v] of verified) if (v.untilMs <= now) verified.delete(t);
        if (verified.size >= MAX_CACHED) verified.clear();
      }
      verified.set(token, { caller, untilMs: claims.exp! * 1000 });
      return caller;
    },
  };
}
