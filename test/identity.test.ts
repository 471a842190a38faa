// Identity: JWTs from a real OpenID Connect provider (oidc-provider, client-credentials grant) beside static tokens,
// OIDC discovery, JWKS caching, key rotation, provider down, every rejection, and the caller inside PostgreSQL
// (dbapi.caller, dbapi.claims, SET LOCAL ROLE) enforced by row-level security and seen by an audit trigger.
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { SignJWT, importJWK, base64url, type JWK } from 'jose';
import { startTestApp, ROOT, TOKEN, type TestApp } from './support/startTestApp';
import { startIdentityProvider, newSigningKey, AUDIENCE, type IdentityProvider } from './support/startIdentityProvider';
import { serverUrl } from './support/testDatabase';
import { createClient } from '../client';

const role = `dbapi_t11_${randomBytes(4).toString('hex')}`;
let idp: IdentityProvider;
let app: TestApp;
const admin = () => postgres(serverUrl(), { max: 1, onnotice: () => {} });

beforeAll(async () => {
  const sql = admin();
  await sql.unsafe(`create role ${role} nologin`); // roles are the server's, not a database's: a random name, dropped after
  await sql.end();
  idp = await startIdentityProvider([
    { id: 'billing', scope: 'whoami/* example/foo', claims: { db_role: role } },
    { id: 'reports', scope: 'whoami/* example/foo', claims: { db_role: role, dbapi_dry_run: true } },
    { id: 'stranger', scope: 'other/*', claims: { db_role: role } },
    { id: 'default', scope: 'whoami/*', claims: { db_role: role } },
  ]);
  app = await startTestApp({
    moduleDirs: [join(ROOT, 'modules'), join(ROOT, 'test', 'fixtures', 'identity')],
    env: {
      JWT_ISSUER: idp.issuer, JWT_AUDIENCE: AUDIENCE, JWT_ROLE_CLAIM: 'db_role', JWT_JWKS_COOLDOWN_S: '1', JWT_JWKS_MAX_AGE_S: '1',
      CALLERS: JSON.stringify([
        { name: 'ops', tokens: ['ops-token-0123456789abcdef'], allow: ['whoami/*'], role },
        { name: 'ghost', tokens: ['ghost-token-0123456789abcdef'], allow: ['whoami/*'], role: 'dbapi_no_such_role_t11' },
      ]),
    },
  });
});

afterAll(async () => {
  await app?.close();
  await idp?.stop();
  const sql = admin();
  await sql.unsafe(`drop role if exists ${role}`);
  await sql.end();
});

const me = (token: string) => app.call('/whoami/me', {}, { token });

test('a client-credentials JWT, keys found by OIDC discovery: the caller, its claims and its role inside PostgreSQL', async () => {
  const res = await me(await idp.token('billing'));
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ caller: 'billing', user: role, claims: { iss: idp.issuer, aud: AUDIENCE, db_role: role, scope: 'whoami/* example/foo' } });
  // Static callers beside it: their name, `{}` as claims, and the pool's user or their own role.
  expect((await app.call('/whoami/me')).body).toMatchObject({ caller: 'default', claims: {}, user: expect.not.stringMatching(role) });
  expect((await me('ops-token-0123456789abcdef')).body).toEqual({ caller: 'ops', claims: {}, user: role });
  // Gone after commit: a plain query on the same pool sees none of it.
  const [after] = await app.db.pool('default')`select current_setting('dbapi.caller', true) as caller, current_user as "user"`;
  expect([after.caller ?? '', after.user]).not.toContain(role);
});

test('row-level security through SET LOCAL ROLE keeps callers apart; an audit trigger reads dbapi.caller', async () => {
  const billing = await idp.token('billing');
  expect((await app.call('/whoami/add', { body: 'b1' }, { token: billing })).body).toEqual({ owner: 'billing', body: 'b1' });
  expect((await app.call('/whoami/add', { body: 'o1' }, { token: 'ops-token-0123456789abcdef' })).body).toEqual({ owner: 'ops', body: 'o1' });
  expect((await app.call('/whoami/notes', {}, { token: billing })).body).toEqual([{ owner: 'billing', body: 'b1' }]);
  expect((await app.call('/whoami/notes', {}, { token: 'ops-token-0123456789abcdef' })).body).toEqual([{ owner: 'ops', body: 'o1' }]);
  expect((await app.call('/whoami/notes')).body).toHaveLength(2); // the pool's user owns the table: no policy applies
  expect((await app.call('/whoami/audit')).body).toEqual([{ caller: 'billing', db_user: role, body: 'b1' }, { caller: 'ops', db_user: role, body: 'o1' }]);
  // A row the policy refuses (SQLSTATE 42501) is a 403, not a 500.
  const forged = await app.call('/whoami/forge', { owner: 'ops' }, { token: billing });
  expect([forged.status, forged.body.error.code]).toEqual([403, 'forbidden']);
});

test('a JWT without the role claim runs as the pool\'s user', async () => {
  const { db_role: _, ...rest } = { sub: 'norole', scope: 'whoami/*', db_role: '' };
  const token = await new SignJWT(rest).setProtectedHeader({ alg: 'RS256', kid: idp.keys[0].kid }).setIssuer(idp.issuer)
    .setAudience(AUDIENCE).setExpirationTime('1m').sign(await importJWK(idp.keys[0], 'RS256'));
  const res = await me(token);
  expect([res.status, res.body.caller, res.body.user]).toEqual([200, 'norole', expect.not.stringMatching(role)]);
});

test('scopes and dry runs come from claims: no matching scope is 403', async () => {
  expect((await app.call('/example/foo', { name: 'a' }, { token: await idp.token('billing') })).status).toBe(200);
  const stranger = await idp.token('stranger');
  expect([(await me(stranger)).status, (await me(stranger)).body.error.code]).toEqual([403, 'forbidden']);
  const dry = { headers: { prefer: 'tx=rollback' } };
  expect((await app.call('/whoami/me', {}, { token: await idp.token('billing'), ...dry })).status).toBe(403);
  expect((await app.call('/whoami/me', {}, { token: await idp.token('reports'), ...dry })).status).toBe(200);
});

test('an unknown role is a clear 403; the call commits nothing', async () => {
  const res = await me('ghost-token-0123456789abcdef');
  expect([res.status, res.body.error.code, res.body.error.message]).toEqual([403, 'forbidden', 'The caller\'s database role does not exist']);
  expect((await app.call('/whoami/add', { body: 'ghost-note' }, { token: 'ghost-token-0123456789abcdef' })).status).toBe(403);
  expect((await app.call('/whoami/notes')).body.map((n: { body: string }) => n.body)).not.toContain('ghost-note');
});

describe('rejected tokens: 401 with WWW-Authenticate: Bearer error="invalid_token", the reason logged, never the token', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const claims = () => ({ sub: 'billing', scope: 'whoami/*', db_role: role });
  const sign = async (payload: Record<string, unknown>, o: { key?: JWK; iss?: string; aud?: string; exp?: number; nbf?: number } = {}) => {
    const key = o.key ?? idp.keys[0];
    const jwt = new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid }).setIssuer(o.iss ?? idp.issuer)
      .setAudience(o.aud ?? AUDIENCE).setIssuedAt().setExpirationTime(o.exp ?? now() + 60);
    if (o.nbf) jwt.setNotBefore(o.nbf);
    return jwt.sign(await importJWK(key, 'RS256'));
  };
  const encode = (o: unknown) => base64url.encode(JSON.stringify(o));
  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    ['garbage', async () => `garbage.${randomBytes(8).toString('hex')}.${randomBytes(8).toString('hex')}`, /invalid token/],
    ['expired (past the 30 s skew)', () => sign(claims(), { exp: now() - 120 }), /ERR_JWT_EXPIRED/],
    ['not yet valid', () => sign(claims(), { nbf: now() + 600 }), /ERR_JWT_CLAIM_VALIDATION_FAILED.*nbf/],
    ['another issuer', () => sign(claims(), { iss: 'http://127.0.0.1:1/other' }), /iss/],
    ['another audience', () => sign(claims(), { aud: 'urn:other' }), /aud/],
    ['signed by another key under a known kid', async () => sign(claims(), { key: { ...(await newSigningKey('x')), kid: idp.keys[0].kid } }), /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/],
    ['unsigned (alg none)', async () => `${encode({ alg: 'none' })}.${encode({ ...claims(), iss: idp.issuer, aud: AUDIENCE, exp: now() + 60 })}.`, /ERR_JOSE_ALG_NOT_ALLOWED|ERR_JWS_INVALID/],
    ['HMAC keyed with the public key', async () => {
      const { d, p, q, dp, dq, qi, ...pub } = idp.keys[0];
      void [d, p, q, dp, dq, qi];
      const secret = new TextEncoder().encode(JSON.stringify(pub));
      return new SignJWT({ ...claims() }).setProtectedHeader({ alg: 'HS256', kid: pub.kid }).setIssuer(idp.issuer).setAudience(AUDIENCE).setExpirationTime(now() + 60).sign(secret);
    }, /ERR_JOSE_ALG_NOT_ALLOWED/],
    ['without exp', async () => new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: idp.keys[0].kid }).setIssuer(idp.issuer).setAudience(AUDIENCE).sign(await importJWK(idp.keys[0], 'RS256')), /exp/],
    ['a caller name a static caller has', () => sign({ ...claims(), sub: 'default' }), /configured caller/],
    ['a role claim that is no identifier', () => sign({ ...claims(), db_role: 'x; drop table y' }), /db_role/],
    ['a role claim that is not a string', () => sign({ ...claims(), db_role: ['a'] }), /db_role/],
  ];
  test.each(cases)('%s', async (_name, make, reason) => {
    const token = await make();
    const res = await me(token);
    expect([res.status, res.body.error.code, res.headers.get('www-authenticate')]).toEqual([401, 'unauthorized', 'Bearer error="invalid_token"']);
    const line = app.logs.find((l) => l.http?.request?.id === res.headers.get('x-request-id') && l.http?.response);
    expect(line!.error.message).toMatch(reason);
    expect(JSON.stringify(app.logs)).not.toContain(token.split('.')[2] || token);
  });
});

test('key rotation without a restart, JWKS fetches bounded by the cooldown, and provider down: cached keys keep working', async () => {
  // The provider rotates in a new signing key: its tokens are accepted at once (one refetch), the old key's still are.
  const old = await idp.token('billing');
  await idp.rotate();
  const fresh = await idp.token('billing');
  expect(JSON.parse(Buffer.from(fresh.split('.')[0], 'base64url').toString()).kid).toBe('key-2');
  expect((await me(fresh)).body).toMatchObject({ caller: 'billing', user: role });
  expect((await me(old)).status).toBe(200);
  // Unknown kids, one after another: at most one fetch per cooldown (1 s here) for them, plus the background refresh
  // that the cache's max age (1 s here) asks for.
  const unknown = await new SignJWT({ sub: 'billing', scope: 'whoami/*', db_role: role }).setProtectedHeader({ alg: 'RS256', kid: 'nobody' })
    .setIssuer(idp.issuer).setAudience(AUDIENCE).setExpirationTime('1m').sign(await importJWK(await newSigningKey('nobody'), 'RS256'));
  await new Promise((r) => setTimeout(r, 1_100)); // past the cooldown the rotation's refetch started
  const before = idp.jwksFetches();
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) statuses.push((await me(unknown)).status);
  expect([...new Set(statuses)]).toEqual([401]);
  expect(idp.jwksFetches() - before).toBeLessThanOrEqual(2);
  // The provider goes down: tokens signed by cached keys still verify, also once the cache is past its max age.
  const unused = await idp.token('reports');
  await idp.stop();
  await new Promise((r) => setTimeout(r, 1_100));
  expect((await me(unused)).body).toMatchObject({ caller: 'reports' });
  expect(app.logs.some((l) => /JWKS fetch failed: the cached keys stay in use/.test(l.message))).toBe(true);
  await idp.start();
});

test('Idempotency-Key with a role: the handler runs as the role, the stored answer needs no grants, a repeat replays', async () => {
  const init = { token: 'ops-token-0123456789abcdef', headers: { 'idempotency-key': `k-${randomBytes(4).toString('hex')}` } };
  const first = await app.call('/whoami/add', { body: 'o2' }, init);
  const again = await app.call('/whoami/add', { body: 'o2' }, init);
  expect([first.status, first.body, again.headers.get('idempotency-replayed'), again.body]).toEqual([200, { owner: 'ops', body: 'o2' }, 'true', { owner: 'ops', body: 'o2' }]);
  expect((await app.call('/whoami/audit')).body.filter((r: { body: string }) => r.body === 'o2')).toEqual([{ caller: 'ops', db_user: role, body: 'o2' }]);
  const ghost = await app.call('/whoami/add', { body: 'g' }, { token: 'ghost-token-0123456789abcdef', headers: { 'idempotency-key': 'k-ghost' } });
  expect([ghost.status, ghost.body.error.message]).toEqual([403, 'The caller\'s database role does not exist']);
});

test('typed client: a token provider callback, asked again with refresh: true when the gateway calls its token invalid', async () => {
  const asked: boolean[] = [];
  let stale = true;
  const client = createClient({
    baseUrl: app.url,
    token: async ({ refresh }) => {
      asked.push(refresh);
      if (stale && !refresh) return (await idp.token('billing')).replace(/\.[^.]+$/, '.c2lnbmF0dXJl'); // as if expired on the way
      stale = false;
      return idp.token('billing');
    },
  });
  expect(await client.example.foo({ name: 'ann' })).toMatchObject({ name: 'ann' });
  expect(await client.example.foo({ name: 'bob' })).toMatchObject({ name: 'bob' });
  expect(asked).toEqual([false, true, false]);
  const bad = createClient({ baseUrl: app.url, token: () => 'still.not.valid' });
  expect(await bad.example.foo({ name: 'x' }).catch((e) => [e.status, e.code])).toEqual([401, 'unauthorized']);
});
