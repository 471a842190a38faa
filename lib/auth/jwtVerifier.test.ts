// The JWT verifier without a database: keys from a JWKS file or an explicit JWKS URL, the per-token cache until exp,
// claims to a caller, and no keys at all (provider down from the start) as 503.
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import pino from 'pino';
import { jwtVerifier, type JwtOptions } from './jwtVerifier';

const silent = pino({ level: 'silent' });
const base = { issuer: 'https://idp.example.com', audience: 'dbapi', clockSkewS: 0, jwksCooldownS: 30, jwksMaxAgeS: 600, algorithms: ['ES256'], callerClaim: 'azp', scopeClaim: 'scp', roleClaim: 'pg_role', dryRunClaim: 'dry' };
let jwk: JWK;
let sign: (claims: Record<string, unknown>, exp?: number) => Promise<string>;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  sign = (claims, exp = Math.floor(Date.now() / 1000) + 60) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(base.issuer).setAudience('dbapi').setExpirationTime(exp).sign(privateKey);
});

test('JWKS file; caller from the configured claims; the verification is cached until exp', async () => {
  const v = jwtVerifier({ ...base, jwksFile: { keys: [jwk] } } as JwtOptions, [], silent);
  const token = await sign({ azp: 'svc', scp: ['example/*', 'read:all', 'https://x/y', 'reports/daily'], pg_role: 'svc_role', dry: true }, Math.floor(Date.now() / 1000) + 2);
  expect(v.cached(token)).toBeUndefined();
  const caller = await v.verify(token);
  expect(caller).toMatchObject({ name: 'svc', allow: ['example/*', 'reports/daily'], role: 'svc_role', dryRun: true, tokenHashes: [] });
  expect(v.cached(token)).toBe(caller);
  await new Promise((r) => setTimeout(r, 2_100));
  expect(v.cached(token)).toBeUndefined(); // expired: verified again (and refused, with no clock skew)
  await expect(v.verify(token)).rejects.toMatchObject({ code: 'unauthorized' });
});

test('an explicit JWKS URL is fetched once for many tokens; no keys at all is 503 unavailable', async () => {
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/keys`;
  try {
    const v = jwtVerifier({ ...base, jwksUrl: url } as JwtOptions, [], silent);
    for (let i = 0; i < 5; i++) expect((await v.verify(await sign({ azp: `svc${i}` }))).name).toBe(`svc${i}`);
    expect(fetches).toBe(1);
  } finally {
    server.close();
  }
  const down = jwtVerifier({ ...base, jwksUrl: url } as JwtOptions, [], silent);
  await expect(down.verify(await sign({ azp: 'svc' }))).rejects.toMatchObject({ code: 'unavailable', status: 503 });
});
