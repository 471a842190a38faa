// `npx tsx bench/jwtCost.ts`: CPU per JWT verification (RS256 signature and claims, keys from a JWKS in memory) against a hit of
// the verifier's per-token cache: what a busy JWT caller would pay per call without the cache.
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import pino from 'pino';
import { jwtVerifier } from '../lib/auth/jwtVerifier';

(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'RS256' }] };
  const o = { issuer: 'https://i', audience: 'dbapi', clockSkewS: 30, jwksFile: jwks, jwksCooldownS: 30, jwksMaxAgeS: 600, algorithms: ['RS256'], callerClaim: 'sub', scopeClaim: 'scope', dryRunClaim: 'x' };
  const tokens = await Promise.all(Array.from({ length: 3000 }, (_, i) => new SignJWT({ scope: 'example/*' }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer('https://i').setAudience('dbapi').setSubject(`s${i}`).setExpirationTime('1h').sign(privateKey)));
  const v = jwtVerifier(o, [], pino({ level: 'silent' }));
  for (const t of tokens.slice(0, 500)) await v.verify(t); // warm up
  let c = process.cpuUsage();
  for (const t of tokens.slice(500)) await v.verify(t);
  let d = process.cpuUsage(c);
  console.log('verify (signature + claims) CPU µs/token', ((d.user + d.system) / 2500).toFixed(1));
  c = process.cpuUsage();
  for (let r = 0; r < 100; r++) for (const t of tokens) v.cached(t);
  d = process.cpuUsage(c);
  console.log('cache hit CPU µs/call', ((d.user + d.system) / 300000).toFixed(3));
})();
