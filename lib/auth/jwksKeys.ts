// The issuer's signing keys for jose: a JWKS file, or fetched from JWT_JWKS_URL (or the URL OIDC discovery names) and
// cached. Unknown kids refetch at most once per cooldown; the cache is refreshed in the background after its max age;
// a failed fetch (provider down) keeps the cached keys in use. jose's createRemoteJWKSet does most of this, but its
// failed fetches start no cooldown and a stale cache that cannot be refreshed rejects every token.
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import { ApiError, RETRY_AFTER } from '../errors/ApiError';

export interface KeySource {
  issuer: string;
  jwksUrl?: string;
  jwksFile?: { keys: unknown[] };
  cooldownMs: number;
  maxAgeMs: number;
  log: Logger;
}

const FETCH_TIMEOUT_MS = 5_000;

export function jwksKeys(o: KeySource): JWTVerifyGetKey {
  if (o.jwksFile) return createLocalJWKSet(o.jwksFile as JSONWebKeySet);
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let jwksUrl = o.jwksUrl;
  let fetchedAt = -Infinity; // the last fetch that succeeded
  // The cooldown counts from the last failed fetch (provider down) and, for unknown kids, from the last fetch an
  // unknown kid caused: a key rotated in just after start is fetched at once, junk kids cause one fetch per cooldown.
  let failedAt = -Infinity;
  let unknownKidAt = -Infinity;
  let pending: Promise<void> | undefined;
  const since = (t: number) => Date.now() - t >= o.cooldownMs;
  const cooled = () => since(failedAt);

  function refresh(): Promise<void> {
    return (pending ??= (async () => {
      try {
        jwksUrl ??= await discover(o.issuer);
        const jwks = await getJson(jwksUrl) as JSONWebKeySet;
        if (!Array.isArray(jwks?.keys)) throw new Error('the answer is not a JSON Web Key Set');
        local = createLocalJWKSet(jwks);
        fetchedAt = Date.now();
        o.log.info({ jwt: { jwks_url: jwksUrl, keys: jwks.keys.length } }, 'JWKS fetched');
      } catch (e) {
        failedAt = Date.now();
        o.log.warn({ jwt: { jwks_url: jwksUrl ?? null }, error: { message: (e as Error).message } }, local ? 'JWKS fetch failed: the cached keys stay in use' : 'JWKS fetch failed: no keys yet');
      } finally {
        pending = undefined;
      }
    })());
  }

  return async (header, token) => {
    if (!local) {
      if (pending) await pending;
      else if (cooled()) await refresh();
      if (!local) throw new ApiError('unavailable', { message: 'The identity provider\'s keys could not be fetched; retry later', headers: RETRY_AFTER });
    } else if (Date.now() - fetchedAt >= o.maxAgeMs && cooled()) {
      void refresh(); // in the background: this call, and those meanwhile, use the cached keys
    }
    try {
      return await local(header, token);
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey)) throw e;
      // A kid we do not know: perhaps a rotated-in key. Refetch, but at most once per cooldown.
      if (pending) await pending;
      else if (cooled() && since(unknownKidAt)) {
        unknownKidAt = Date.now();
        await refresh();
      } else throw e;
      return local(header, token);
    }
  };
}

/** OIDC discovery: the issuer's `jwks_uri`, from a document that names the same issuer. */
async function discover(issuer: string): Promise<string> {
  const doc = await getJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`) as { issuer?: unknown; jwks_uri?: unknown };
  if (doc?.issuer !== issuer) throw new Error('the discovery document names another issuer');
  if (typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) throw new Error('the discovery document has no jwks_uri');
  return doc.jwks_uri;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}
